"""`agentos record` and `agentos learn --offline` (agentos.cli.record_cmd): bad inputs."""

from __future__ import annotations

from bad_input_checks import assert_clean_exit_2, no_checkpoints


def test_offline_dataset_with_an_online_replay_says_install_an_offline_learner(agent_dir, cli):
    # was "components.replay.params.dataset: unknown parameter 'dataset'"
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--offline", "--dataset", "x", "--steps", "10", "--agent", agent_dir
    )
    assert_clean_exit_2(
        code, out, err, ("replay cannot read the dataset 'x'", "agentos install cql")
    )
    assert "unknown parameter" not in err
    no_checkpoints(agent_dir)


def test_other_bad_replay_parameters_are_reported_as_before(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--offline", "--dataset", "x", "--steps", "10", "-p", "replay.capacty=5",
        "--agent", agent_dir,
    )  # fmt: skip
    assert_clean_exit_2(code, out, err, ("unknown parameter 'capacty'",))


def test_interrupt_prints_one_line_exits_130_and_writes_no_dataset(agent_dir, cli, monkeypatch):
    from agentos.api import Agent
    from agentos.datasets.storage import agent_storage

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(Agent, "record", interrupted)
    code, out, err = cli("record", "--episodes", "2", "--dataset", "x-v0", "--agent", agent_dir)
    assert code == 130, (code, out, err)
    assert "Interrupted: recording stopped, no dataset was written." in out
    assert "Traceback" not in out + err
    assert not (agent_storage(agent_dir) / "x-v0").exists()
