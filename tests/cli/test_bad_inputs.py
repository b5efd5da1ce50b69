"""A battery of bad inputs and faults, made the way a user makes them: every one exits 2,
prints no traceback, names the file, key or option, and says how to fix it (a "Fix:" line).

Each case is (id, setup, fragments): ``setup(agent)`` prepares the agent folder (a fresh
`agentos init` agent) and returns the command line; ``fragments`` must all appear in the
message. Cases that need a trained agent start from a copy of one trained once per module.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import pytest
import yaml

DQN = ("install", "dqn", "cartpole")


@dataclass
class Case:
    id: str
    setup: Callable[[Path], list[str]]
    fragments: tuple[str, ...] = ()
    install: tuple[str, ...] = ()
    """`agentos install` arguments run (and required to succeed) before ``setup``."""
    after: Callable[[Path], None] | None = None
    """Checks on the agent folder after the command (nothing recorded, nothing changed)."""
    extra: dict = field(default_factory=dict)


def args(*a: str) -> Callable[[Path], list[str]]:
    return lambda agent: [*a, "--agent", str(agent)]


def plain(*a: str) -> Callable[[Path], list[str]]:
    """A command line without --agent (usage errors fail before it matters)."""
    return lambda agent: list(a)


def edit(fn: Callable[[dict], None], *command: str) -> Callable[[Path], list[str]]:
    def setup(agent: Path) -> list[str]:
        path = agent / "agentos.yaml"
        data = yaml.safe_load(path.read_text())
        fn(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return [*command, "--agent", str(agent)]

    return setup


def write(text: bytes | str, *command: str) -> Callable[[Path], list[str]]:
    def setup(agent: Path) -> list[str]:
        path = agent / "agentos.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return [*command, "--agent", str(agent)]

    return setup


def add_local(name: str, source: str, entry: dict, *command: str) -> Callable[[Path], list[str]]:
    """Write ``source`` to ``<name>.py`` in the agent folder and add the component ``entry``."""

    def setup(agent: Path) -> list[str]:
        (agent / f"{name}.py").write_text(source)
        return edit(lambda d: d["components"].update({name: entry}), *command)(agent)

    return setup


def registry_with(requirements: list[str], *extra: str) -> Callable[[Path], list[str]]:
    """A YAML registry offering 'needy' with ``requirements``; installs it."""

    def setup(agent: Path) -> list[str]:
        index = {
            "components": {
                "needy": {
                    "role": "replay",
                    "module": "json",
                    "class": "JSONDecoder",
                    "requirements": requirements,
                }
            }
        }
        path = agent.parent / "needy-registry.yaml"
        path.write_text(yaml.safe_dump(index))
        return ["install", "needy", "--registry", str(path), *extra, "--agent", str(agent)]

    return setup


def no_checkpoints(agent: Path) -> None:
    assert not (agent / ".agentos" / "checkpoints").exists() or not any(
        (agent / ".agentos" / "checkpoints").rglob("*.msgpack")
    )


ACTOR_SOURCE = (
    "from agentos.runtime.roles import Actor\n"
    "class Broken(Actor):\n"
    "    def __init__(self, params, context, **deps):\n"
    "        raise ValueError('the widget is not calibrated')\n"
)


def _replace_actor(d: dict, module: str, cls: str = "RandomActor", **more) -> None:
    d["components"]["actor"].update(module=module, **{"class": cls}, **more)


def _symlink_actor(agent: Path) -> list[str]:
    outside = agent.parent / "outside.py"
    outside.write_text((agent / "random_policy.py").read_text())
    (agent / "linked.py").symlink_to(outside)
    return edit(lambda d: _replace_actor(d, "linked.py"), "show")(agent)


def _dirty_registry_folder(agent: Path) -> list[str]:
    folder = agent.parent / "plain-folder"
    folder.mkdir()
    return ["list", "--registry", str(folder), "--agent", str(agent)]


CASES = [
    # --- command-line usage (typer's own exceptions) ---------------------------------------
    Case("unknown-command", plain("lern"), ("No such command 'lern'", "learn", "--help")),
    Case("misspelt-option", plain("learn", "--step", "5"), ("No such option: --step", "--steps")),
    Case("steps-not-a-number", plain("learn", "--steps", "abc"), ("'--steps'", "integer")),
    Case("episodes-not-a-number", plain("run", "-e", "many"), ("'--episodes'",)),
    Case("runs-show-without-id", plain("runs", "show"), ("Missing argument", "run_id")),
    Case("install-without-names", plain("install"), ("Missing argument", "names")),
    Case("uninstall-without-name", plain("uninstall"), ("Missing argument", "name")),
    Case("rerun-without-id", plain("rerun"), ("Missing argument", "run_id")),
    Case("param-without-value", plain("learn", "-p"), ("'-p' requires an argument",)),
    Case("unknown-bench-option", plain("bench", "--nope"), ("No such option: --nope",)),
    Case("port-not-a-number", plain("ui", "--port", "http"), ("'--port'",)),
    Case("unknown-runs-subcommand", plain("runs", "shwo", "x"), ("No such command",)),
    # --- values out of range -----------------------------------------------------------------
    Case("episodes-zero", args("run", "--episodes", "0"), ("'--episodes'", "or equal to 1")),
    Case("episodes-negative", args("run", "--episodes", "-1"), ("'--episodes'",)),
    Case("steps-zero", args("learn", "--steps", "0"), ("'--steps'",), DQN, no_checkpoints),
    Case("steps-negative", args("learn", "--steps", "-5"), ("'--steps'",), DQN, no_checkpoints),
    Case("learn-seed-negative", args("learn", "--seed", "-1"), ("'--seed'",), DQN, no_checkpoints),
    Case("run-seed-negative", args("run", "--seed", "-1"), ("'--seed'",)),
    Case("port-too-large", plain("ui", "--port", "70000"), ("'--port'", "65535")),
    Case("port-negative", plain("ui", "--port", "-1"), ("'--port'",)),
    Case("port-zero", plain("ui", "--port", "0"), ("'--port'",)),
    Case("runs-limit-zero", args("runs", "--limit", "0"), ("'--limit'",)),
    Case("runs-limit-negative", args("runs", "-n", "-3"), ("'--limit'",)),
    Case("actors-negative", args("learn", "--actors", "-1"), ("'--actors'",)),
    Case("replay-shards-zero", args("learn", "--replay-shards", "0"), ("'--replay-shards'",)),
    Case(
        "eval-episodes-zero",
        args("run", "-p", "loop.eval_episodes=0"),
        ("agentos.yaml: loop.eval_episodes", "-p loop.eval_episodes="),
    ),
    Case("log-every-zero", args("run", "-p", "loop.log_every=0"), ("loop.log_every",)),
    Case("learn-every-zero", args("run", "-p", "loop.learn_every=0"), ("loop.learn_every",)),
    Case("sync-every-zero", args("run", "-p", "loop.sync_every=0"), ("loop.sync_every",)),
    Case("eval-every-negative", args("run", "-p", "loop.eval_every=-1"), ("loop.eval_every",)),
    Case(
        "samples-per-insert-negative",
        args("run", "-p", "loop.samples_per_insert=-1"),
        ("loop.samples_per_insert",),
    ),
    Case(
        "min-replay-negative",
        args("run", "-p", "loop.min_replay_size=-5"),
        ("loop.min_replay_size",),
    ),
    Case(
        "replay-capacity-zero",
        args("run", "-p", "replay.capacity=0"),
        ("components.replay.params", "capacity", "-p replay.capacity="),
        DQN,
    ),
    Case(
        "batch-size-zero",
        args("learn", "--steps", "10", "-p", "learner.batch_size=0"),
        ("components.learner.params", "batch_size", "-p learner.batch_size="),
        DQN,
        no_checkpoints,
    ),
    Case(
        "unknown-parameter",
        args("run", "-p", "actor.temperatur=1"),
        ("components.actor.params.temperatur", "unknown parameter"),
    ),
    Case("override-without-equals", args("run", "-p", "actor"), ("-p/--param", "key=value")),
    Case("override-unknown-component", args("run", "-p", "nosuch.key=1"), ("'nosuch'",)),
    Case(
        "wrong-parameter-type",
        args("run", "-p", "loop.eval_episodes=many"),
        ("loop.eval_episodes", "expected int"),
    ),
    # --- the spec file -----------------------------------------------------------------------
    Case(
        "non-utf8-spec",
        write(b"name: caf\xe9\ncomponents: {}\n", "run"),
        ("agentos.yaml:1:", "not UTF-8", "0xe9"),
    ),
    Case(
        "duplicate-top-level-key",
        write("name: a\ncomponents: {}\ncomponents: {}\n", "run"),
        ("agentos.yaml:3", "'components' is given twice", "lines 2 and 3"),
    ),
    Case(
        "duplicate-component",
        write(
            "components:\n  learner: {module: a.py, class: A}\n"
            "  learner: {module: b.py, class: B}\n",
            "show",
        ),
        ("agentos.yaml:3", "'learner' is given twice", "lines 2 and 3"),
    ),
    Case(
        "duplicate-parameter",
        write("components: {}\nloop:\n  eval_episodes: 3\n  eval_episodes: 4\n", "run"),
        ("'eval_episodes' is given twice", "lines 3 and 4"),
    ),
    Case("malformed-yaml", write("components: [\n", "run"), ("agentos.yaml:", "malformed YAML")),
    Case("spec-is-a-list", write("- a\n- b\n", "run"), ("agentos.yaml", "must be a mapping")),
    Case("unknown-top-key", write("componnets: {}\n", "run"), ("agentos.yaml", "componnets")),
    Case(
        "no-spec",
        lambda agent: ["run", "--agent", str(agent.parent / "empty")],
        ("no agent spec found", "agentos init"),
    ),
    Case(
        "unknown-source",
        edit(lambda d: d["components"]["actor"].update(source="ftp"), "show"),
        ("components.actor.source", "unknown source 'ftp'"),
    ),
    Case(
        "component-without-class",
        edit(lambda d: d["components"]["actor"].pop("class"), "show"),
        ("components.actor.class", "missing 'class'"),
    ),
    Case(
        "local-module-parent-folder",
        edit(lambda d: _replace_actor(d, "../outside/evil.py"), "show"),
        ("components.actor.module", "outside the agent folder", "allow_outside_agent"),
    ),
    Case(
        "local-module-absolute-path",
        edit(lambda d: _replace_actor(d, "/tmp/agentos-evil.py"), "show"),
        ("components.actor.module", "outside the agent folder"),
    ),
    Case(
        "local-module-symlink-out",
        _symlink_actor,
        ("components.actor.module", "'linked.py' is outside the agent folder"),
    ),
    Case(
        "allow-outside-not-a-bool",
        edit(lambda d: d["components"]["actor"].update(allow_outside_agent="yes"), "show"),
        ("components.actor.allow_outside_agent", "true or false"),
    ),
    Case(
        "local-module-not-py",
        edit(lambda d: _replace_actor(d, "random_policy.txt"), "show"),
        ("components.actor.module", "must be a .py file"),
    ),
    Case(
        "local-module-missing",
        edit(lambda d: _replace_actor(d, "nope.py"), "show"),
        ("components.actor.module", "nope.py not found"),
    ),
    Case(
        "local-class-missing",
        edit(lambda d: _replace_actor(d, "random_policy.py", "RandomActr"), "show"),
        ("components.actor.class", "did you mean 'RandomActor'"),
    ),
    Case(
        "local-init-raises",
        add_local(
            "actor", ACTOR_SOURCE, {"module": "actor.py", "class": "Broken"}, "run", "-e", "1"
        ),
        ("components.actor", "Broken(...) in actor.py", "ValueError", "not calibrated"),
    ),
    Case(
        "local-module-syntax-error",
        add_local("bad", "def (:\n", {"module": "bad.py", "class": "X"}, "show"),
        ("bad.py:1", "SyntaxError"),
    ),
    Case(
        "hash-mismatch",
        edit(lambda d: d["components"]["learner"].update(hash="sha256:" + "0" * 64), "run"),
        ("components.learner", "changed since it was installed", "agentos install"),
        DQN,
    ),
    Case(
        "learn-without-learner",
        args("learn", "--steps", "10"),
        ("agentos.yaml: components", "no learner"),
        (),
        no_checkpoints,
    ),
    # --- install -----------------------------------------------------------------------------
    Case("install-unknown-name", args("install", "cartpol"), ("cartpol", "agentos list")),
    Case(
        "install-unknown-gym-id",
        args("install", "gym:NoSuchEnv-v0"),
        ("gym:NoSuchEnv-v0", "unknown gymnasium environment id 'NoSuchEnv-v0'"),
    ),
    Case(
        "install-misspelt-gym-id",
        args("install", "gym:Acrobt-v1"),
        ("unknown gymnasium environment id", "did you mean Acrobot-v1"),
    ),
    Case("install-empty-gym-id", args("install", "gym:"), ("'gym:' names no environment id",)),
    Case(
        "install-requirement-is-an-option",
        registry_with(["--no-index", "pyyaml"]),
        ("needy-registry.yaml", "requirements", "'--no-index'", "PEP 508"),
    ),
    Case(
        "install-requirement-is-a-path",
        registry_with(["/path/pkg"]),
        ("requirements", "'/path/pkg'", "PEP 508"),
    ),
    Case(
        "install-requirement-needs-consent",
        registry_with(["agentos-no-such-package==1.0"]),
        ("agentos install", "--yes", "agentos-no-such-package==1.0"),
    ),
    Case(
        "install-missing-registry",
        args("install", "x", "--registry", "/nonexistent-agentos-registry"),
        ("/nonexistent-agentos-registry", "not found"),
    ),
    Case("list-registry-not-git", _dirty_registry_folder, ("not a git repository",)),
    Case("uninstall-not-installed", args("uninstall", "foo"), ("'foo' is not installed",)),
    Case(
        "resume-without-checkpoint",
        args("learn", "--resume", "--steps", "10"),
        ("--resume found no checkpoint", "without --resume"),
        DQN,
    ),
    Case(
        "best-without-checkpoint",
        args("run", "--checkpoint", "best"),
        ("no best checkpoint", "agentos learn"),
        DQN,
    ),
    Case(
        "checkpoint-of-unknown-run",
        args("run", "--checkpoint", "nosuchrun"),
        ("nosuchrun", "agentos runs"),
        DQN,
    ),
]


def _assert_clean_exit_2(code: int, out: str, err: str, fragments: tuple[str, ...]) -> None:
    text = out + err
    assert code == 2, (code, out, err)
    assert "Traceback" not in text, text
    # one message: the only "Error:" line (a list of what was refused may come before it)
    assert ("\n" + err).count("\nError: ") == 1, err
    assert "\nFix: " in ("\n" + err).split("\nError: ", 1)[1], err
    flat = " ".join(err.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, err)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    (agent_dir.parent / "empty").mkdir(exist_ok=True)
    if case.install:
        code, _, err = cli(*case.install, "--agent", agent_dir)
        assert code == 0, err
    before = (agent_dir / "agentos.yaml").read_bytes()
    command = case.setup(agent_dir)
    edited = (agent_dir / "agentos.yaml").read_bytes()
    _assert_clean_exit_2(*cli(*command), case.fragments)
    if command[0] in ("install", "uninstall"):
        assert (agent_dir / "agentos.yaml").read_bytes() == edited, "the spec was changed"
    if case.after is not None:
        case.after(agent_dir)
    assert before is not None


def test_install_never_runs_pip_without_consent(agent_dir: Path, cli, monkeypatch) -> None:
    import agentos.components.install as install_module

    def no_pip(cmd, **kwargs):  # pragma: no cover - reached only on a regression
        raise AssertionError(f"pip ran: {cmd}")

    monkeypatch.setattr(install_module.subprocess, "run", no_pip)
    for requirements in (["--dry-run", "--no-index", "/tmp/pkg"], ["agentos-no-such-pkg==1"]):
        command = registry_with(requirements)(agent_dir)
        code, out, err = cli(*command)
        assert code == 2 and "Traceback" not in out + err


def test_install_with_yes_passes_requirements_after_double_dash(
    agent_dir: Path, cli, monkeypatch
) -> None:
    import agentos.components.install as install_module

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="ok", stderr="")

    monkeypatch.setattr(install_module.subprocess, "run", fake_run)
    code, out, err = cli(*registry_with(["agentos-no-such-pkg==1.0"], "--yes")(agent_dir))
    assert code == 0, err
    assert "pip install -- agentos-no-such-pkg==1.0" in " ".join(err.split())
    assert calls and calls[0][-2:] == ["--", "agentos-no-such-pkg==1.0"]
    spec = yaml.safe_load((agent_dir / "agentos.yaml").read_text())
    assert spec["components"]["replay"]["requirements"] == ["agentos-no-such-pkg==1.0"]


def test_registry_folder_git_config_runs_nothing(agent_dir: Path, cli, tmp_path: Path) -> None:
    """`list --registry FOLDER` must not run the folder's fsmonitor or hooks."""
    folder = tmp_path / "reg"
    folder.mkdir()
    marker = tmp_path / "ran"

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    (folder / "agentos-registry.yaml").write_text("components: {}\n")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "registry")
    git("config", "core.fsmonitor", f"touch {marker}; false")
    hooks = folder / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    git("config", "core.hooksPath", str(hooks))
    (folder / "agentos-registry.yaml").write_text("components: {}\n# edited\n")
    code, out, err = cli("list", "--registry", folder, "--agent", agent_dir)
    assert code == 0, err
    assert not marker.exists(), "the registry folder's git config ran a program"


def test_outside_module_allowed_when_the_spec_says_so(agent_dir: Path, cli) -> None:
    outside = agent_dir.parent / "shared_actor.py"
    outside.write_text((agent_dir / "random_policy.py").read_text())
    edit(lambda d: _replace_actor(d, "../shared_actor.py", allow_outside_agent=True), "show")(
        agent_dir
    )
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err


def test_runs_limit_one_shows_runs(agent_dir: Path, cli) -> None:
    assert cli("run", "-e", "1", "--agent", agent_dir)[0] == 0
    code, out, err = cli("runs", "--limit", "1", "--agent", agent_dir)
    assert code == 0 and "No runs yet" not in out


# --- checkpoints: one trained agent per module, copied per case -----------------------------

TRAIN = ["loop.min_replay_size=50", "loop.eval_every=0", "loop.eval_episodes=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agentos.api import load_agent
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = tmp_path_factory.mktemp("trained") / "agent"
    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    load_agent(folder, TRAIN).learn(120, seed=0)
    return folder


def _latest(agent: Path) -> Path:
    return next((agent / ".agentos" / "checkpoints").glob("*/latest.msgpack"))


def _damage(data: bytes) -> Callable[[Path], None]:
    return lambda agent: _latest(agent).write_bytes(data)


def _install_acrobot(agent: Path) -> None:
    from agentos.components.install import install

    install(agent, ["gym:Acrobot-v1"], [])


CKPT = ".msgpack"
DAMAGED = ("latest.msgpack", "--checkpoint best")
CHECKPOINT_CASES = [
    ("truncated-1-byte-run", _damage(b"\x93"), ["run", "-e", "1"], (*DAMAGED, "unreadable")),
    ("empty-file-run", _damage(b""), ["run", "-e", "1"], (*DAMAGED, "unreadable")),
    ("empty-map-run", _damage(msgpack.packb({})), ["run", "-e", "1"], (*DAMAGED, "no 'loop'")),
    ("list-instead-of-map", _damage(msgpack.packb([1, 2])), ["run", "-e", "1"], DAMAGED),
    (
        "truncated-resume",
        _damage(b"\x93"),
        ["learn", "--resume", "--steps", "200"],
        (*DAMAGED, "--resume --from"),
    ),
    (
        "empty-map-resume",
        _damage(msgpack.packb({})),
        ["learn", "--resume", "--steps", "200"],
        DAMAGED,
    ),
    (
        "hidden-sizes-changed-run",
        None,
        ["run", "-e", "1", "-p", "network.hidden_sizes=[32]"],
        (CKPT, "network.hidden_sizes: [256,256] in the checkpoint, [32] now", "-p network"),
    ),
    (
        "hidden-sizes-changed-resume",
        None,
        ["learn", "--resume", "--steps", "200", "-p", "network.hidden_sizes=[32]"],
        (CKPT, "network.hidden_sizes", "without --resume", "hidden_sizes=[256,256]"),
    ),
    (
        "environment-changed-run",
        _install_acrobot,
        ["run", "-e", "1"],
        (CKPT, "CartPole-v1 in the checkpoint, Acrobot-v1 now", "agentos learn"),
    ),
    (
        "environment-changed-resume",
        _install_acrobot,
        ["learn", "--resume", "--steps", "200"],
        (CKPT, "CartPole-v1 in the checkpoint, Acrobot-v1 now", "without --resume"),
    ),
]


@pytest.mark.parametrize(
    "damage, command, fragments",
    [c[1:] for c in CHECKPOINT_CASES],
    ids=[c[0] for c in CHECKPOINT_CASES],
)
def test_bad_checkpoint(trained: Path, tmp_path: Path, cli, damage, command, fragments) -> None:
    from agentos.tracking.store import list_runs

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    if damage is not None:
        damage(agent)
    before = {r.run_id: r.status for r in list_runs(agent, agent_name="agent")}
    _assert_clean_exit_2(*cli(*command, "--agent", agent), fragments)
    after = {r.run_id: r.status for r in list_runs(agent, agent_name="agent")}
    # nothing new is recorded, and no finished run gets worse
    assert after == before


def test_resume_that_fails_midway_keeps_the_run_finished(
    trained: Path, tmp_path: Path, monkeypatch
) -> None:
    from agentos.api import load_agent
    from agentos.runtime.loop import Loop
    from agentos.tracking.store import get_run

    agent = tmp_path / "agent"
    shutil.copytree(trained, agent)
    run_id = _latest(agent).parent.name

    def boom(self, steps):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Loop, "learn", boom)
    with pytest.raises(RuntimeError):
        load_agent(agent, TRAIN).learn(200, resume=True)
    run = get_run(agent, run_id)
    assert run.summary.status == "FINISHED"
    assert "disk on fire" in run.tags.get("agentos.resume_failed", "")
