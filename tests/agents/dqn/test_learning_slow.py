"""DQN learns CartPole-v1: `agentos install dqn cartpole && agentos learn --steps 50000`
reaches an evaluation mean return >= 475 for seeds 0, 1, 2 (run with -m slow)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqn_solves_cartpole_in_50k_steps(tmp_path, cli, seed):
    folder = tmp_path / "agent"
    assert cli("init", folder)[0] == 0
    assert cli("install", "dqn", "cartpole", "--agent", folder)[0] == 0
    code, out, err = cli("learn", "--steps", "50000", "--seed", seed, "--agent", folder)
    assert code == 0, err
    from agentos.tracking.store import list_runs

    run = list_runs(folder)[0]
    assert run.status == "FINISHED" and run.steps == 50_000
    assert run.eval_return >= 475, f"seed {seed}: final evaluation mean {run.eval_return}"
