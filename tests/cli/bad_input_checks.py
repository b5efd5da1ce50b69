"""Helpers for the bad-input battery (tests/cli/test_bad_*.py): agent folder edits that
return a command line, and the check every bad input must pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


TRAIN = ["loop.min_replay_size=50", "loop.eval_every=0", "loop.eval_episodes=1"]
"""Overrides of the tiny DQN learn run that ``trained_dqn_agent`` makes."""


def trained_dqn_agent(folder: Path) -> Path:
    """A DQN cartpole agent in ``folder`` with one finished learn run (and its checkpoint)."""
    from agentos.api import load_agent
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    init(folder, None, False)
    install(folder, ["dqn", "cartpole"], [])
    load_agent(folder, TRAIN).learn(120, seed=0)
    return folder


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


def replace_actor(d: dict, module: str, cls: str = "RandomActor", **more) -> None:
    d["components"]["actor"].update(module=module, **{"class": cls}, **more)


def symlink_actor(agent: Path) -> list[str]:
    outside = agent.parent / "outside.py"
    outside.write_text((agent / "random_policy.py").read_text())
    (agent / "linked.py").symlink_to(outside)
    return edit(lambda d: replace_actor(d, "linked.py"), "show")(agent)


def plain_registry_folder(agent: Path) -> list[str]:
    folder = agent.parent / "plain-folder"
    folder.mkdir()
    return ["list", "--registry", str(folder), "--agent", str(agent)]


def assert_clean_exit_2(code: int, out: str, err: str, fragments: tuple[str, ...]) -> None:
    text = out + err
    assert code == 2, (code, out, err)
    assert "Traceback" not in text, text
    # one message: the only "Error:" line (a list of what was refused may come before it)
    assert ("\n" + err).count("\nError: ") == 1, err
    assert "\nFix: " in ("\n" + err).split("\nError: ", 1)[1], err
    flat = " ".join(err.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, err)


def check_refused_with_nothing_changed(case: Case, agent_dir: Path, cli) -> None:
    """Install ``case.install``, run the case's command: a clean exit 2 that leaves the spec
    as it was and records no run (the session shares one tracking store, where other tests'
    agents are also "agent")."""
    from agentos.tracking.store import list_runs

    if case.install:
        code, _, err = cli(*case.install, "--agent", agent_dir)
        assert code == 0, err
    command = case.setup(agent_dir)
    before = (agent_dir / "agentos.yaml").read_bytes()
    runs_before = {r.run_id for r in list_runs(agent_dir, agent_name="agent")}
    assert_clean_exit_2(*cli(*command), case.fragments)
    assert (agent_dir / "agentos.yaml").read_bytes() == before, "the spec was changed"
    if case.after is not None:
        case.after(agent_dir)
    runs_after = {r.run_id for r in list_runs(agent_dir, agent_name="agent")}
    assert runs_after == runs_before, "a run was recorded"
