"""Bad inputs of a second sweep (registries, run references, defaults, component names, Ray,
bench, runs filters, output paths): each exits 2 with one message naming the file, key or
option and a Fix line, no traceback, and nothing earlier gets worse (see test_bad_inputs.py
for the first battery and test_bad_inputs_found.py for the second)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from bad_input_checks import Case, assert_clean_exit_2, edit

TRAIN = ["loop.min_replay_size=50", "loop.eval_every=0", "loop.eval_episodes=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DQN agent with one finished learn run (and its checkpoint)."""
    from agentos.api import load_agent
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = tmp_path_factory.mktemp("trained") / "agent"
    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    load_agent(folder, TRAIN).learn(120, seed=0)
    return folder


def rename_environment(name: str):
    def change(d: dict) -> None:
        d["components"] = {
            (name if k == "environment" else k): v for k, v in d["components"].items()
        }

    return change


CASES = [
    # --- defaults: and component names the parameters cannot reach ------------------------
    Case(
        "defaults-misspelt-slot",
        edit(lambda d: d.update(defaults={"enviroment": {"max_steps": 9}}), "show"),
        ("defaults.enviroment", "no component 'enviroment'", "environment, actor", "did you"),
    ),
    Case(
        "component-name-with-a-dot",
        edit(rename_environment("my.env"), "show"),
        ("components.my.env", "'my.env'", "rename it to my_env"),
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
    if case.install:
        code, _, err = cli(*case.install, "--agent", agent_dir)
        assert code == 0, err
    command = case.setup(agent_dir)
    assert_clean_exit_2(*cli(*command), case.fragments)
    if case.after is not None:
        case.after(agent_dir)


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
