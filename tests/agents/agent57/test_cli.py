"""The Agent57 quickstart through the CLI, shortened: init, install agent57 lunar_lander,
learn, run; the run's metrics include the Agent57 ones."""

from __future__ import annotations

SMALL = [
    "-p", "loop.min_replay_size=200",
    "-p", "loop.eval_every=0",
    "-p", "loop.eval_episodes=1",
    "-p", "loop.log_every=200",
    "-p", "learner.batch_size=4",
    "-p", "network.lstm_size=16",
    "-p", "network.hidden_sizes=[16]",
    "-p", "network.head_hidden=0",
    "-p", "actor.burn_in=2",
    "-p", "actor.trace_length=8",
    "-p", "actor.period=4",
    "-p", "environment.num_envs=2",
]  # fmt: skip


def test_agent57_quickstart(tmp_path, cli):
    folder = tmp_path / "agent"
    assert cli("init", folder)[0] == 0
    code, out, err = cli("install", "agent57", "lunar_lander", "--agent", folder)
    assert code == 0, err
    code, out, err = cli("learn", "--steps", "600", *SMALL, "--agent", folder)
    assert code == 0, err
    code, out, err = cli("run", "--episodes", "1", "--agent", folder)
    assert code == 0, err
    from agentos.tracking.store import list_runs, metric_history

    learn = [r for r in list_runs(folder) if r.run_id != list_runs(folder)[0].run_id][0]
    for key in (
        "train/intrinsic_reward",
        "train/rnd_alpha",
        "train/arm_0",
        "train/idm_loss",
        "train/idm_accuracy",
        "train/rnd_loss",
        "train/loss_extrinsic",
        "train/loss_intrinsic",
        "train/steps_per_s",
        "train/learner_updates_per_s",
    ):
        assert metric_history(folder, learn.run_id, key), key
