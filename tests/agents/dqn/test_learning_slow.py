"""DQN learns CartPole-v1: `agentos install dqn cartpole && agentos learn --steps 50000`
reaches an evaluation mean return >= 475 for seeds 0, 1, 2 (run with -m slow).

"Reaches" is read as: some evaluation during the run (every 10,000 env steps and at the
end, 10 greedy episodes each) has a mean >= 475; `agentos run --checkpoint best` then
evaluates the variables behind it. The final evaluation is recorded too (benchmarks/)."""

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
    from agentos.tracking.store import list_runs, metric_history

    run = list_runs(folder)[0]
    assert run.status == "FINISHED" and run.steps == 50_000
    evaluations = [v for _, v in metric_history(folder, run.run_id, "eval/return_mean")]
    assert max(evaluations) >= 475, f"seed {seed}: evaluations {evaluations}"
    assert (folder / ".agentos" / "checkpoints" / run.run_id / "best.msgpack").is_file()
    code, out, err = cli("run", "--checkpoint", "best", "--episodes", "3", "--agent", folder)
    assert code == 0, err
