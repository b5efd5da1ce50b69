"""R2D2 learns CartPole-v1 within 100,000 env steps for seeds 0, 1, 2 (run with -m slow):
some evaluation (every 10,000 steps, 10 greedy episodes) reaches a mean >= 475."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_r2d2_solves_cartpole_in_100k_steps(tmp_path, cli, seed):
    folder = tmp_path / "agent"
    assert cli("init", folder)[0] == 0
    assert cli("install", "r2d2", "cartpole", "--agent", folder)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "100000", "--seed", seed, "-p", "environment.num_envs=8",
        "-p", "loop.eval_every=10000", "--agent", folder,
    )  # fmt: skip
    assert code == 0, err
    from agentos.tracking.store import list_runs, metric_history

    run = list_runs(folder)[0]
    assert run.status == "FINISHED" and run.steps == 100_000
    evaluations = [v for _, v in metric_history(folder, run.run_id, "eval/return_mean")]
    assert max(evaluations) >= 475, f"seed {seed}: evaluations {evaluations}"
