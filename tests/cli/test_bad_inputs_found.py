"""More bad inputs, found by acting as a new user: each exits 2 with one message naming the
file or key and a Fix line, no traceback, and nothing recorded (see test_bad_inputs.py for
the first battery and its helpers)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from bad_input_checks import (
    DQN,
    Case,
    args,
    assert_clean_exit_2,
    edit,
    no_checkpoints,
)

ENV_SOURCE = """
import gymnasium
import numpy as np
from gymnasium import spaces


class Levers(gymnasium.Env):
    def __init__(self):
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = {space}
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {{}}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.float32), 0.0, self.t >= 5, False, {{}}
"""
LEVERS = {"module": "levers.py", "class": "Levers", "params": {"max_episode_steps": 20}}
JOINED = "environment.wrappers=[agentos.envs.actions.JointDiscreteActions]"


def with_levers(space: str, *command: str):
    def setup(agent: Path) -> list[str]:
        (agent / "levers.py").write_text(ENV_SOURCE.format(space=space))
        return edit(lambda d: d["components"].update(environment=dict(LEVERS)), *command)(agent)

    return setup


def in_a_file(*command: str):
    """``command`` with its last argument (an output file) put under a file of the folder."""

    def setup(agent: Path) -> list[str]:
        (agent.parent / "afile").write_text("not a folder")
        *head, out = command
        return [*head, str(agent.parent / "afile" / out), "--agent", str(agent)]

    return setup


CQL = ("install", "cql", "cartpole")

CASES = [
    # --- component keys of the wrong type (a `hash: 5` was a TypeError traceback) ----------
    Case(
        "hash-not-text",
        edit(lambda d: d["components"]["learner"].update(hash=5), "show"),
        ("components.learner.hash", "'hash' must be a text, got 5"),
        DQN,
    ),
    Case(
        "module-not-text",
        edit(lambda d: d["components"]["actor"].update(module=5), "show"),
        ("components.actor.module", "'module' must be a text"),
    ),
    Case(
        "requirements-not-a-list",
        edit(lambda d: d["components"]["actor"].update(requirements="numpy"), "show"),
        ("components.actor.requirements", "must be a list"),
    ),
    # --- memory (a MemoryError traceback, exit 1) -------------------------------------------
    Case(
        "num-envs-beyond-memory",
        args("learn", "--steps", "10", "-p", "environment.num_envs=100000000000000"),
        ("out of memory", "environment.num_envs"),
        DQN,
        no_checkpoints,
    ),
    # --- action spaces the Q-learners cannot act in: the fix names the bundles and a wrapper -
    Case(
        "multi-discrete-actions-dqn",
        with_levers("spaces.MultiDiscrete([2, 3])", "show"),
        (
            "(environment: Levers)",
            "MultiDiscrete([2 3])",
            "dqn, r2d2, agent57",
            "JointDiscreteActions",
        ),
        DQN,
    ),
    Case(
        "multi-binary-actions-r2d2",
        with_levers("spaces.MultiBinary(3)", "run", "-e", "1"),
        ("(environment: Levers)", "MultiBinary(3)", "Discrete(8)", "JointDiscreteActions"),
        ("install", "r2d2", "cartpole"),
    ),
    Case(
        "tuple-of-box-actions-dqn",
        with_levers(
            "spaces.Tuple((spaces.Discrete(2), spaces.Box(0.0, 1.0, (1,))))",
            "learn",
            "--steps",
            "5",
        ),
        ("(environment: Levers)", "none of the builtin bundles", "a wrapper of your own"),
        DQN,
        no_checkpoints,
    ),
    Case(
        "tuple-actions-random-actor",
        with_levers("spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3)))", "run", "-e", "1"),
        ("the random actor samples", "JointDiscreteActions"),
    ),
    # --- an offline agent with neither a dataset nor a checkpoint ---------------------------
    Case(
        "fresh-cql-run",
        args("run", "-e", "1"),
        ("components.replay.params.dataset", "neither a dataset nor a checkpoint", "evaluate"),
        CQL,
    ),
    Case(
        "fresh-cql-record",
        args("record", "-e", "1", "--dataset", "first-v0"),
        ("neither a dataset nor a checkpoint", "agentos install dqn", "agentos install cql"),
        CQL,
    ),
    Case(
        "fresh-r2d2-cql-run",
        args("run", "-e", "1"),
        ("neither a dataset nor a checkpoint", "agentos install r2d2`", "install r2d2_cql"),
        ("install", "r2d2_cql", "cartpole"),
    ),
    # --- an output path inside a file (an OSError traceback after the work) ---------------
    Case(
        "trace-inside-a-file",
        in_a_file("run", "-e", "1", "--trace", "t.csv"),
        ("--trace", "afile is a file, not a folder"),
    ),
    Case("plot-inside-a-file", in_a_file("plot", "-o", "p.png"), ("-o", "afile is a file")),
    Case("graph-inside-a-file", in_a_file("show", "--graph", "g.svg"), ("--graph", "afile is a")),
    # --- --checkpoint on an agent that cannot have one ("train first" misled) ---------------
    Case(
        "checkpoint-without-learner-run",
        args("run", "-e", "1", "--checkpoint", "best"),
        ("--checkpoint best: this agent has no learner", "leave out --checkpoint"),
    ),
    Case(
        "checkpoint-without-learner-record",
        args("record", "-e", "1", "--dataset", "x-v0", "--checkpoint", "latest"),
        ("--checkpoint latest: this agent has no learner",),
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
    assert not (agent_dir / ".agentos" / "datasets").exists() or not any(
        (agent_dir / ".agentos" / "datasets").iterdir()
    )


def test_joined_actions_fit_dqn(agent_dir: Path, cli) -> None:
    assert cli(*DQN, "--agent", agent_dir)[0] == 0
    with_levers("spaces.MultiDiscrete([2, 3])", "show")(agent_dir)
    code, out, err = cli("show", "-p", JOINED, "--agent", agent_dir)
    assert code == 0, err
    assert "action Discrete(6)" in out


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is not None, reason="mujoco installed")
def test_install_warns_when_the_environment_needs_a_missing_package(
    agent_dir: Path, cli, caplog: pytest.LogCaptureFixture
) -> None:
    code, _, err = cli("install", "gym:Ant-v5", "--agent", agent_dir)
    assert code == 0, err
    flat = " ".join(caplog.text.split())
    assert "cannot run or learn yet" in flat and "gymnasium[mujoco]" in flat, caplog.text


def test_graph_into_a_new_folder(agent_dir: Path, cli) -> None:
    out = agent_dir.parent / "new" / "graph.svg"
    code, _, err = cli("show", "--graph", out, "--agent", agent_dir)
    assert code == 0, err
    assert out.is_file()
