"""Bad inputs of a second sweep (registries, run references, defaults, component names, Ray,
bench, runs filters, output paths): each exits 2 with one message naming the file, key or
option and a Fix line, no traceback, and nothing earlier gets worse (see test_bad_inputs.py
for the first battery and test_bad_inputs_found.py for the second)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bad_input_checks import (
    DQN,
    TRAIN,
    Case,
    args,
    assert_clean_exit_2,
    check_refused_with_nothing_changed,
    edit,
    no_checkpoints,
    trained_dqn_agent,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DQN agent with one finished learn run (and its checkpoint)."""
    return trained_dqn_agent(tmp_path_factory.mktemp("trained") / "agent")


def rename_environment(name: str):
    def change(d: dict) -> None:
        d["components"] = {
            (name if k == "environment" else k): v for k, v in d["components"].items()
        }

    return change


def registry_file(content: bytes | str, *command: str, name: str = "reg.yaml"):
    """Write a registry file beside the agent; ``{reg}`` in ``command`` is its path."""

    def setup(agent: Path) -> list[str]:
        path = agent.parent / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return [c.replace("{reg}", str(path)) for c in command] + ["--agent", str(agent)]

    return setup


def suite(**fields):
    return edit(
        lambda d: d.update(bench={"mine": {"steps": 50, "eval_episodes": 1, **fields}}),
        "bench",
        "mine",
    )


ENTRY = "  foo:\n    role: actor\n    module: json\n    class: JSONDecoder\n"
NO_RUNS = no_checkpoints


CASES = [
    # --- registry files and locations -------------------------------------------------------
    Case(
        "registry-is-a-list",
        registry_file("- a\n- b\n", "install", "foo", "--registry", "{reg}"),
        ("a registry must be a mapping", "got list", "builtin.yaml"),
    ),
    Case(
        "registry-params-a-list",
        registry_file(
            "components:\n" + ENTRY + "    params: [1]\n", "install", "foo", "-r", "{reg}"
        ),
        ("components.foo.params", "got list", "e.g. params:"),
    ),
    Case(
        "registry-key-twice",
        registry_file("components:\n" + ENTRY + ENTRY, "install", "foo", "--registry", "{reg}"),
        ("reg.yaml:6", "key 'foo' is given twice, on lines 2 and 6"),
    ),
    Case(
        "registry-not-utf8",
        registry_file(b"components:\n  f\xffoo: {}\n", "list", "--registry", "{reg}"),
        ("reg.yaml:2:4", "not UTF-8"),
    ),
    Case(
        "registry-empty-name",
        args("install", "foo", "--registry", ""),
        ("an empty registry name", "--registry ../my-registry.yaml"),
    ),
    Case(
        "registry-file-with-a-revision",
        registry_file("components: {}\n", "install", "foo", "--registry", "{reg}@v1"),
        ("a YAML file has no revisions", "without @v1"),
    ),
    Case(
        "registry-is-a-device",
        args("list", "--registry", "/dev/null"),
        ("'/dev/null' is neither a YAML file nor a folder",),
    ),
    # --- bench: every environment checked before the first one trains -----------------------
    Case(
        "bench-misspelt-env-after-a-good-one",
        suite(envs=["agent", "cartpol"], seeds=[0]),
        ("bench.mine.envs[1]", "'cartpol'", "close matches: cartpole"),
        DQN,
        NO_RUNS,
    ),
    Case(  # `show` passed it, and `bench` blamed components.environment.params
        "bench-misspelt-gym-id-in-show",
        edit(lambda d: d.update(bench={"mine": {"envs": ["gym:Cartpole-v1"]}}), "show"),
        ("bench.mine.envs[0]", "unknown gymnasium environment id 'Cartpole-v1'", "CartPole-v1"),
        DQN,
    ),
    Case(
        "bench-seed-twice",
        suite(seeds=[0, 0]),
        ("bench.mine", "seeds lists 0 more than once"),
        DQN,
        NO_RUNS,
    ),
    Case(
        "bench-envs-not-a-list",
        suite(envs="agent"),
        ("bench.mine.envs", "expected list of str", "in brackets"),
        DQN,
    ),
    # --- learn: Ray layouts an agent cannot take, --seed that --resume would ignore --------
    Case(
        "actors-far-beyond-the-cores",
        args("learn", "--actors", "100000", "--steps", "10"),
        ("--actors 100000 would start 100000 worker processes", "CPU cores", "--address"),
        DQN,
        NO_RUNS,
    ),
    Case(
        "replay-shards-on-uniform-replay",
        args("learn", "--actors", "1", "--replay-shards", "2", "--steps", "10"),
        ("--replay-shards needs a replay of sequences", "leave out --replay-shards"),
        DQN,
        NO_RUNS,
    ),
    Case(
        "learner-actor-on-uniform-replay",
        args("learn", "--actors", "1", "--learner-actor", "--steps", "10"),
        ("--learner-actor needs the replay in shard processes",),
        DQN,
        NO_RUNS,
    ),
    Case(
        "seed-with-resume",
        args("learn", "--resume", "--seed", "3", "--steps", "10"),
        ("--seed 3 with --resume", "drop --seed", "drop --resume"),
        DQN,
        NO_RUNS,
    ),
    Case(
        "list-parameter-given-a-word",
        args("show", "-p", "network.hidden_sizes=abc"),
        ("-p network.hidden_sizes", "expected list of int", "in brackets: [a, b]"),
        DQN,
    ),
    # --- defaults: and component names the parameters cannot reach ------------------------
    Case(
        "defaults-misspelt-slot",
        edit(lambda d: d.update(defaults={"enviroment": {"max_steps": 9}}), "show"),
        ("defaults.enviroment", "no component 'enviroment'", "environment, actor", "did you"),
    ),
    Case(
        "component-name-with-a-dot",
        edit(rename_environment("my.env"), "show"),
        ("components.my.env", "'my.env'", "split at its dots", "rename it to my_env"),
    ),
    Case(
        "component-name-with-a-space",  # was refused for dots it does not have
        edit(rename_environment("my env"), "show"),
        ("'my env'", "only ASCII letters, digits", "rename it to my_env"),
    ),
    Case(
        "component-named-loop",
        edit(rename_environment("loop"), "run", "-e", "1"),
        (
            "components.loop",
            "cannot be named 'loop'",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    check_refused_with_nothing_changed(case, agent_dir, cli)


# --- run references on an agent that has runs and checkpoints -------------------------------
EMPTY_ID = ("'' is an empty RUN_ID", "agentos runs")
RUN_CASES = [
    ("checkpoint-empty-run", ["run", "-e", "1", "--checkpoint", ""], EMPTY_ID),
    ("checkpoint-blank-record", ["record", "-e", "1", "-d", "x-v0", "-c", " "], ("empty RUN_ID",)),
    ("from-run-empty-record", ["record", "--from-run", "", "-d", "x-v0"], EMPTY_ID),
    (
        "resume-from-empty",
        ["learn", "--resume", "--from", "", "--steps", "200"],
        ("--resume --from ''", "empty RUN_ID", "leave out --from"),
    ),
    (
        "from-empty-without-resume",
        ["learn", "--from", "", "--steps", "200"],
        ("--resume is not given",),
    ),
]


@pytest.mark.parametrize(
    "command, fragments", [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES]
)
def test_bad_run_reference(trained: Path, tmp_path: Path, cli, command, fragments) -> None:
    from agentos.tracking.store import list_runs

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    before = {r.run_id: r.status for r in list_runs(agent, agent_name="agent")}
    assert_clean_exit_2(*cli(*command, "--agent", agent), fragments)
    assert {r.run_id: r.status for r in list_runs(agent, agent_name="agent")} == before
    assert not (agent / ".agentos" / "datasets").exists()


def test_a_bundles_defaults_for_a_role_not_installed_yet(agent_dir: Path, cli) -> None:
    """r2d2 sets defaults for the environment slot: still fine before it is installed."""
    edit(lambda d: d.update(defaults={"learner": {"batch_size": 8}}), "show")(agent_dir)
    code, _, err = cli("show", "--agent", agent_dir)
    assert code == 0, err


def test_missing_output_folder_names_the_path_not_tracking(agent_dir: Path, cli, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code, out, err = cli("show", "--graph", "/proc/agentos-nope/g.svg", "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, ("/proc/agentos-nope", "check the path"))
    assert "MLFLOW_TRACKING_URI" not in err


def test_render_mode_of_the_training_run_is_not_carried_to_run(trained: Path) -> None:
    """A render mode given to `learn -p` is how that run showed episodes, not the network."""
    from agentos.api import load_agent

    agent = load_agent(trained, [])
    state = {"overrides": ["environment.render_mode=human", "network.hidden_sizes=[256,256]"]}
    rebuilt = agent._with_checkpoint_overrides(state)
    assert rebuilt.overrides == ["network.hidden_sizes=[256,256]"]
    assert rebuilt.graph.node("environment").params.render_mode is None


def test_run_video_after_a_spec_change_does_not_suggest_a_render_mode(
    trained: Path, tmp_path: Path, cli
) -> None:
    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    edit(
        lambda d: d["components"]["network"].setdefault("params", {}).update(hidden_sizes=[8]),
        "run",
    )(agent)
    code, out, err = cli("run", "-e", "1", "--video", "--agent", agent)
    assert_clean_exit_2(code, out, err, ("network.hidden_sizes", "-p network.hidden_sizes"))
    assert "render_mode" not in err


def test_a_registry_that_replaces_a_builtin_name_says_so(agent_dir: Path, cli, caplog) -> None:
    setup = registry_file(
        "components:\n  cartpole:\n    role: environment\n    module: agentos.envs.gym_env\n"
        "    class: GymEnvironment\n    params: {env_id: Acrobot-v1}\n",
        "install", "cartpole", "--registry", "{reg}",
    )  # fmt: skip
    code, _, err = cli(*setup(agent_dir))
    assert code == 0, err
    flat = " ".join(caplog.text.split())
    assert "'cartpole' comes from" in flat and "replaces the 'cartpole' of builtin" in flat


def test_ui_port_that_needs_rights(monkeypatch) -> None:
    import socket

    from agentos.cli.ui_cmd import _check_port_free
    from agentos.errors import AgentOSError

    def refuse(self, address):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refuse)
    with pytest.raises(AgentOSError, match="may not be opened by this user") as info:
        _check_port_free(80)
    assert "--port 5000" in str(info.value) and "in use" not in str(info.value)


def test_plot_of_runs_without_common_steps_says_so(trained: Path, tmp_path: Path, cli, caplog):
    """Runs of different lengths share no evaluation step: the mean has no point, and the
    plot says how to draw them (no matplotlib legend warning)."""
    import warnings

    from agentos.api import load_agent

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    load_agent(agent, TRAIN).learn(150, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = cli("plot", "--agent", agent)
    assert code == 0, err
    flat = " ".join(caplog.text.split())
    assert "share no stretch of env steps" in flat and "--by run" in flat
