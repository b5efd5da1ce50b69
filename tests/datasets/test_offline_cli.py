"""`agentos record` and `agentos learn --offline` end to end (tiny sizes, seconds): lineage in
MLflow, exact resume, and bad datasets refused with exit 2, no traceback and a Fix line."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from tests.cli.bad_input_checks import assert_clean_exit_2

TINY = [
    "-p",
    "network.hidden_sizes=[16]",
    "-p",
    "learner.batch_size=16",
    "-p",
    "loop.eval_episodes=1",
]
OFFLINE_LOOP = [
    *("-p", "loop.log_every=50"),
    *("-p", "loop.eval_every=100"),
    *("-p", "loop.checkpoint_every=100"),
]


def _record_random(cli, agent: Path, name: str = "rand-v0", episodes: int = 10) -> None:
    code, out, err = cli("install", "random", "cartpole", "--agent", agent)
    assert code == 0, err
    code, out, err = cli("record", "--episodes", episodes, "--dataset", name, "--agent", agent)
    assert code == 0, err
    assert f"Recorded dataset {name}: {episodes} episodes" in " ".join(out.split())


def _install_cql(cli, agent: Path, bundle: str = "cql") -> None:
    code, out, err = cli("install", bundle, "--agent", agent)
    assert code == 0, err


def test_record_then_learn_offline_with_lineage(cli, agent_dir):
    import mlflow

    from agentos.datasets.lineage import dataset_inputs, mlflow_digest
    from agentos.datasets.storage import agent_storage, read_sidecar
    from agentos.tracking.store import tracking_uri

    _record_random(cli, agent_dir)
    sidecar = read_sidecar(agent_storage(agent_dir) / "rand-v0")
    assert sidecar["actor"] == "RandomActor" and sidecar["episodes"] == 10
    _install_cql(cli, agent_dir)
    code, out, err = cli(
        "learn", "--offline", "--dataset", "rand-v0", "--steps", 200, *TINY, *OFFLINE_LOOP,
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "200 learner updates, 0 env steps" in " ".join(out.split())
    client = mlflow.MlflowClient(tracking_uri(agent_dir))
    learn_id = next(
        r.info.run_id
        for r in client.search_runs(
            [e.experiment_id for e in client.search_experiments()],
            filter_string="tags.`agentos.offline` = 'true'",
        )
        if r.data.tags.get("agentos.dataset") == "rand-v0"
        and Path(r.inputs.dataset_inputs[0].dataset.source.split('"')[3]).is_relative_to(agent_dir)
    )
    (entry,) = dataset_inputs(client, learn_id)
    assert entry["name"] == "rand-v0" and entry["digest"] == mlflow_digest(sidecar["digest"])
    run = client.get_run(learn_id)
    assert run.data.tags["agentos.dataset_digest"] == sidecar["digest"]
    assert run.data.tags["agentos.dataset_recorded_by"] == sidecar["record_run"]
    assert run.data.metrics["train/learner_updates"] == 200
    assert "train/conservative" in run.data.metrics and "eval/return_mean" in run.data.metrics
    record_run = client.get_run(sidecar["record_run"])
    assert learn_id in record_run.data.tags["agentos.dataset_used_by"]
    code, out, err = cli("runs", "show", learn_id, "--agent", agent_dir)
    assert code == 0 and "agentos.dataset" in out and "rand-v0" in out


def test_bc_learns_offline_without_evaluation(cli, agent_dir):
    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir, "bc")
    code, out, err = cli(
        "learn", "--offline", "--no-eval", "--dataset", "rand-v0", "--steps", 100, *TINY,
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "no evaluation" in out


def test_record_from_a_dqn_checkpoint(cli, agent_dir):
    code, _, err = cli("install", "dqn", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    code, _, err = cli(
        "learn", "--steps", 300, *TINY, "-p", "loop.min_replay_size=100",
        "-p", "loop.eval_every=0", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(
        "record", "--episodes", 3, "--dataset", "dqn-v0", "--checkpoint", "latest",
        "-p", "actor.evaluation_epsilon=0.5", *TINY, "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    from agentos.datasets.storage import agent_storage, read_sidecar

    sidecar = read_sidecar(agent_storage(agent_dir) / "dqn-v0")
    assert sidecar["actor"] == "DQNActor" and sidecar["checkpoint_run"]


def _final_learner(agent_dir: Path) -> dict:
    from agentos.runtime.checkpoint import load_run_checkpoint
    from agentos.tracking.checkpoints import find_checkpoint

    _, path = find_checkpoint(agent_dir, "latest")
    return load_run_checkpoint(path)["loop"]


def test_offline_resume_is_exact(cli, agent_dir):
    _record_random(cli, agent_dir, episodes=12)
    _install_cql(cli, agent_dir)
    common = ["--offline", "--dataset", "rand-v0", *TINY, *OFFLINE_LOOP, "--agent", agent_dir]
    assert cli("learn", "--steps", 200, *common)[0] == 0
    straight = _final_learner(agent_dir)
    assert cli("learn", "--steps", 100, *common)[0] == 0
    assert cli("learn", "--steps", 200, "--resume", *common)[0] == 0
    resumed = _final_learner(agent_dir)
    assert resumed["counters"]["learner_updates"] == 200
    assert resumed["counters"]["env_steps"] == 0
    jax.tree_util.tree_map(
        np.testing.assert_array_equal,
        straight["components"]["learner"],
        resumed["components"]["learner"],
    )
    assert straight["components"]["replay"] == resumed["components"]["replay"]
    # --resume alone: the continued run names its dataset
    no_dataset = [a for a in common if a not in ("--dataset", "rand-v0")]
    code, out, err = cli("learn", "--steps", 250, "--resume", *no_dataset)
    assert code == 0, err
    assert _final_learner(agent_dir)["counters"]["learner_updates"] == 250


# --------------------------------------------------------------------------- bad input


def _bad(cli, agent_dir, *fragments: str, extra: tuple = ()) -> None:
    code, out, err = cli("learn", "--offline", "--steps", 10, *extra, *TINY, "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, fragments)


def test_missing_dataset_exit_2(cli, agent_dir):
    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir)
    _bad(cli, agent_dir, "no dataset named 'nope-v0'", "rand-v0", extra=("--dataset", "nope-v0"))
    _bad(cli, agent_dir, "no dataset set")


def test_dataset_of_other_spaces_exit_2(cli, agent_dir):
    import gymnasium

    from agentos.datasets.storage import agent_storage, write_dataset
    from tests.datasets.helpers import OBS_SPACE, make_episodes

    _install_cql(cli, agent_dir)
    cli("install", "cartpole", "--agent", agent_dir)
    write_dataset(
        agent_storage(agent_dir) / "three-v0",
        "three-v0",
        make_episodes(),
        OBS_SPACE,
        gymnasium.spaces.Discrete(3),
    )
    _bad(cli, agent_dir, "does not fit this agent's environment", extra=("--dataset", "three-v0"))


def test_empty_truncated_and_changed_datasets_exit_2(cli, agent_dir):
    import minari
    from minari.dataset.minari_storage import MinariStorage

    from agentos.datasets.storage import SIDECAR, agent_storage, data_files
    from tests.datasets.helpers import ACT_SPACE, OBS_SPACE

    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir)
    folder = agent_storage(agent_dir) / "rand-v0"
    victim = max(data_files(folder), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    _bad(cli, agent_dir, "changed since it was recorded", extra=("--dataset", "rand-v0"))
    (folder / SIDECAR).unlink()
    _bad(cli, agent_dir, "unreadable", "truncated", extra=("--dataset", "rand-v0"))
    empty = agent_storage(agent_dir) / "empty-v0" / "data"
    empty.mkdir(parents=True)
    storage = MinariStorage.new(empty, OBS_SPACE, ACT_SPACE, data_format="arrow")
    storage.update_metadata({"dataset_id": "empty-v0", "minari_version": minari.__version__})
    _bad(cli, agent_dir, "holds no steps", extra=("--dataset", "empty-v0"))


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (("learn", "--dataset", "x-v0"), "apply to offline learning only"),
        (("record", "--episodes", 1, "--dataset", "../x"), "invalid dataset name"),
    ],
)
def test_usage_mistakes_exit_2(cli, agent_dir, argv, fragment):
    cli("install", "random", "cartpole", "--agent", agent_dir)
    code, out, err = cli(*argv, "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, (fragment,))


def test_recording_over_an_existing_dataset_exit_2(cli, agent_dir):
    _record_random(cli, agent_dir)
    code, out, err = cli("record", "--episodes", 1, "--dataset", "rand-v0", "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, ("already exists",))


def test_online_learning_on_a_dataset_and_offline_without_one_exit_2(cli, agent_dir):
    _record_random(cli, agent_dir)
    _install_cql(cli, agent_dir)
    code, out, err = cli(
        "learn", "--steps", 5, "-p", "replay.dataset=rand-v0", *TINY, "--agent", agent_dir
    )
    assert_clean_exit_2(code, out, err, ("cannot store new experience", "--offline"))
    cli("install", "uniform_replay", "--agent", agent_dir)
    _bad(cli, agent_dir, "holds no data to learn from offline")
