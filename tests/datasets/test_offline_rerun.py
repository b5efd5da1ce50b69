"""`agentos rerun` of offline runs (offline again, the same dataset and updates), the runs
table counting their learner updates, and online-only options refused with --offline."""

from __future__ import annotations

import pytest

from tests.cli.bad_input_checks import assert_clean_exit_2
from tests.datasets.test_offline_cli import OFFLINE_LOOP, TINY, _install_cql, _record_random


def _run_id(agent_dir, out: str) -> str:
    """The full id of the run whose 8-character prefix follows "Done run" in ``out``."""
    from agentos.tracking.store import get_run

    prefix = out.split("Done run")[1].split()[0]
    return get_run(agent_dir, prefix).summary.run_id


@pytest.mark.parametrize("bundle, evaluation", [("cql", "--eval"), ("bc", "--no-eval")])
def test_rerun_of_an_offline_run_reproduces_it_offline(cli, agent_dir, bundle, evaluation):
    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir, bundle)
    code, out, err = cli(
        "learn", "--offline", evaluation, "--dataset", "rand-v0", "--steps", 200, *TINY,
        *OFFLINE_LOOP, "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    original = _run_id(agent_dir, out)
    code, out, err = cli("rerun", original[:8], "--agent", agent_dir)
    assert code == 0, out + err
    text = " ".join(out.split())
    assert "Reproduced exactly" in text
    compared = "eval/return_mean" if evaluation == "--eval" else "train/loss"
    assert compared in text

    from agentos.tracking.store import get_run

    rerun = text.split("rerun ")[1].split()[0]
    tags = get_run(agent_dir, rerun).tags
    assert tags["agentos.offline"] == "true" and tags["agentos.rerun_of"] == original
    assert tags["agentos.dataset"] == "rand-v0"
    assert tags["agentos.offline_evaluation"] == ("true" if evaluation == "--eval" else "false")


def test_runs_table_counts_learner_updates_of_offline_runs(cli, agent_dir):
    from agentos.tracking.store import list_runs

    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir, "bc")
    code, out, err = cli(
        "learn", "--offline", "--no-eval", "--dataset", "rand-v0", "--steps", 150, *TINY,
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    run_id = _run_id(agent_dir, out)
    (offline,) = [r for r in list_runs(agent_dir) if r.run_id == run_id]
    assert offline.steps == 150
    code, out, _ = cli("runs", "--agent", agent_dir)
    (row,) = [line for line in out.splitlines() if run_id[:6] in line]
    assert code == 0 and "150" in row


@pytest.mark.parametrize(
    "option",
    [
        ("--actors", 2),
        ("--address", "127.0.0.1:6379"),
        ("--replay-shards", 2),
        ("--learner-actor",),
        ("--video-every", 100),
    ],
)
def test_online_only_options_with_offline_exit_2(cli, agent_dir, option):
    code, out, err = cli("learn", "--offline", "--steps", 10, *option, "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, (f"{option[0]} apply to online learning only",))


@pytest.mark.parametrize("bundle, unit", [("cql", "steps"), ("r2d2_cql", "sequences")])
def test_a_dataset_smaller_than_one_batch_exit_2(cli, agent_dir, bundle, unit):
    _record_random(cli, agent_dir, episodes=2)
    _install_cql(cli, agent_dir, bundle)
    code, out, err = cli(
        "learn", "--offline", "--dataset", "rand-v0", "--steps", 10, "-p",
        "learner.batch_size=5000", "--agent", agent_dir,
    )  # fmt: skip
    assert_clean_exit_2(code, out, err, (f"{unit}, fewer than one batch", "learner.batch_size"))
