"""R2D2 learns CartPole-v1 within 100,000 env steps for seeds 0, 1, 2 (run with -m slow):
some evaluation (every 5,000 steps, 10 greedy episodes) reaches a mean >= 475.

Every 5,000 and not 10,000 steps: R2D2's greedy returns on CartPole swing between ~200 and
500 from one evaluation to the next (6 seeds at 10,000: 0-5 of 10 evaluations >= 475 per seed,
with the padded episode starts and without), so a coarse grid decides the test by chance.
The budget, 100,000 env steps, is the criterion and stays."""

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
        "-p", "loop.eval_every=5000", "--agent", folder,
    )  # fmt: skip
    assert code == 0, err
    from agentos.tracking.store import list_runs, metric_history

    run = list_runs(folder)[0]
    assert run.status == "FINISHED" and run.steps == 100_000
    evaluations = [v for _, v in metric_history(folder, run.run_id, "eval/return_mean")]
    assert max(evaluations) >= 475, f"seed {seed}: evaluations {evaluations}"
