"""Bad inputs of a fifth sweep (components of two different agents in one spec, a bad bench
suite that `show` passed, environment params emptied): each exits
2 with one message naming the file and key and a Fix line, no traceback, and records no run
(see test_bad_inputs.py for the first battery)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from bad_input_checks import DQN, Case, check_refused_with_nothing_changed, edit


def bench_suite(suite: object):
    def change(d: dict) -> None:
        d["bench"] = {"quick": suite}

    return change


def mixed_in(component: str, *command: str) -> Callable[[Path], list[str]]:
    """The installed bundle with ``component`` of another agent installed over its slot."""

    def setup(agent: Path) -> list[str]:
        from agentos.components.install import install

        install(agent, [component], [])
        return [*command, "--agent", str(agent)]

    return setup


CASES = [
    # AttributeError: 'UniformReplay' object has no attribute 'add_items' (after a reference
    # error on ${learner.gamma}), exit 1
    Case(
        "r2d2-with-uniform-replay",
        mixed_in("uniform_replay", "learn", "--steps", "300"),
        ("components.actor", "R2D2Actor needs a replay with sequences", "install sequence_replay"),
        ("install", "r2d2", "cartpole"),
    ),
    # AttributeError: no sample_many, exit 1
    Case(
        "agent57-with-dqn-learner",
        mixed_in("dqn_learner", "learn", "--steps", "300"),
        ("components.learner", "DQNLearner needs a network", "install dqn_network"),
        ("install", "agent57", "cartpole"),
    ),
    # TypeError in dqn/actor.py, exit 1
    Case(
        "dqn-with-recurrent-network",
        mixed_in("recurrent_q_network", "run", "-e", "1"),
        ("components.actor", "DQNActor", "RecurrentQNetwork", "install dqn_network"),
        ("install", "dqn", "cartpole"),
    ),
    # flax ScopeCollectionNotFound, exit 1
    Case(
        "agent57-with-r2d2-learner",
        mixed_in("r2d2_learner", "show"),
        ("components.learner", "Agent57Network", "come from different agents"),
        ("install", "agent57", "cartpole"),
    ),
    # exit 0: a suite was only read when `agentos bench --suite quick` ran it
    Case(
        "bench-suite-of-zero-steps",
        edit(bench_suite({"envs": ["agent"], "steps": 0}), "show"),
        ("bench.quick", "steps must be >= 1, got 0"),
        DQN,
    ),
    Case(
        "bench-suite-with-a-misspelt-key",
        edit(bench_suite({"envs": ["agent"], "seed": [0]}), "show"),
        ("bench.quick", "seed", "seeds"),
        DQN,
    ),
    # exit 0: trained CartPole-v1, GymEnvironment's default id, on an Acrobot agent
    Case(
        "environment-params-emptied",
        edit(
            lambda d: d["components"]["environment"].update(params=None), "learn", "--steps", "300"
        ),
        ("components.environment.params", "env_id is not set", "agentos install gym:ID"),
        ("install", "dqn", "gym:Acrobot-v1"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    check_refused_with_nothing_changed(case, agent_dir, cli)


def test_install_warns_when_a_component_of_another_agent_goes_in(
    agent_dir: Path, cli, caplog: pytest.LogCaptureFixture
) -> None:
    assert cli("install", "r2d2", "cartpole", "--agent", agent_dir)[0] == 0
    code, _, err = cli("install", "dqn_network", "--agent", agent_dir)
    assert code == 0, err
    flat = " ".join(caplog.text.split())
    assert "cannot run or learn yet" in flat and "install recurrent_q_network" in flat, flat


def test_show_lists_the_specs_bench_suites(agent_dir: Path, cli) -> None:
    assert cli(*DQN, "--agent", agent_dir)[0] == 0
    edit(bench_suite({"envs": ["agent", "cartpole"], "seeds": [3], "steps": 500}), "show")(
        agent_dir
    )
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err
    assert "bench suite quick: envs agent, cartpole; seeds 3; 500 steps" in " ".join(out.split())
