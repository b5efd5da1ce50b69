"""Datasets in Minari's format: written by agentos, read back by minari itself; digests,
changed, truncated and empty datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agentos.datasets import storage
from agentos.datasets.storage import DatasetError
from tests.datasets.helpers import ACT_SPACE, OBS_SPACE, make_episodes, write


def test_round_trip_read_back_by_minari_itself(tmp_path, monkeypatch):
    import minari

    folder, episodes = write(tmp_path)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(storage.agent_storage(tmp_path)))
    dataset = minari.load_dataset("toy-v0")
    assert dataset.total_episodes == 3
    assert dataset.total_steps == 10
    assert dataset.observation_space == OBS_SPACE
    assert dataset.action_space == ACT_SPACE
    for ours, theirs in zip(episodes, dataset.iterate_episodes(), strict=True):
        np.testing.assert_array_equal(theirs.observations, ours.observations)
        np.testing.assert_array_equal(theirs.actions, ours.actions)
        np.testing.assert_array_equal(theirs.rewards, ours.rewards)
        np.testing.assert_array_equal(theirs.terminations, ours.terminations)
        np.testing.assert_array_equal(theirs.truncations, ours.truncations)
        assert theirs.infos == {} and ours.extras == {}
    assert storage.list_datasets(tmp_path) == ["toy-v0"]
    record = json.loads((folder / storage.SIDECAR).read_text())
    assert record["digest"] == storage.dataset_digest(folder)
    assert record["steps"] == 10 and record["actor"] == "test" and record["extras"] == []


def test_round_trip_of_the_actor_extras_as_minari_infos(tmp_path, monkeypatch):
    import minari

    folder, episodes = write(tmp_path, name="rec-v0", state_size=3)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(storage.agent_storage(tmp_path)))
    dataset = minari.load_dataset("rec-v0")
    back, _, _ = storage.read_episodes(folder, "rec-v0")
    for ours, theirs, read in zip(episodes, dataset.iterate_episodes(), back, strict=True):
        assert set(theirs.infos) == set(read.extras) == {"lstm_h", "lstm_c", "arm"}
        for key in ("lstm_h", "lstm_c"):
            assert theirs.infos[key].shape == (len(ours.rewards) + 1, 3)
            np.testing.assert_array_equal(theirs.infos[key], ours.extras[key])
            np.testing.assert_array_equal(read.extras[key], ours.extras[key])
        np.testing.assert_array_equal(theirs.infos["arm"], ours.extras["arm"])
        np.testing.assert_array_equal(read.extras["arm"], ours.extras["arm"])
    assert storage.read_sidecar(folder)["extras"] == ["arm", "lstm_c", "lstm_h"]


def test_extras_need_one_row_per_observation(tmp_path):
    import dataclasses

    (episode,) = make_episodes(lengths=(3,), state_size=2)
    short = dataclasses.replace(episode, extras={"arm": np.zeros(3, np.int32)})
    with pytest.raises(ValueError, match="needs 4"):
        storage.write_dataset(tmp_path / "x-v0", "x-v0", [short], OBS_SPACE, ACT_SPACE)
    assert not (tmp_path / "x-v0").exists()


def test_transitions_pair_each_step_with_its_next_observation(tmp_path):
    folder, episodes = write(tmp_path, lengths=(2, 3))
    data, obs_space, act_space = storage.read_transitions(folder, "toy-v0")
    assert obs_space == OBS_SPACE and act_space == ACT_SPACE
    np.testing.assert_array_equal(data.observation[:2], episodes[0].observations[:2])
    np.testing.assert_array_equal(data.next_observation[:2], episodes[0].observations[1:])
    np.testing.assert_array_equal(data.next_observation[2:], episodes[1].observations[1:])
    np.testing.assert_array_equal(data.reward, [1, 2, 1, 2, 3])
    # Episode 0 terminates; episode 1 is truncated: it ends without terminating.
    np.testing.assert_array_equal(data.terminated, [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(data.ended, [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(data.returns, [3.0, 6.0])


def test_a_changed_dataset_is_refused(tmp_path):
    folder, _ = write(tmp_path)
    digest = storage.verify(folder, "toy-v0")
    assert digest.startswith("sha256:")
    assert storage.verify(folder, "toy-v0", pinned=digest) == digest
    victim = next(p for p in storage.data_files(folder) if p.name != "metadata.json")
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(DatasetError, match="changed since it was recorded"):
        storage.verify(folder, "toy-v0")


def test_a_pinned_digest_that_differs_is_refused(tmp_path):
    folder, _ = write(tmp_path)
    with pytest.raises(DatasetError, match="not the pinned replay.digest"):
        storage.verify(folder, "toy-v0", pinned="sha256:" + "0" * 64)


def test_a_truncated_dataset_is_refused(tmp_path):
    folder, _ = write(tmp_path)
    (folder / storage.SIDECAR).unlink()  # no recorded digest: reading itself must fail
    victim = max(storage.data_files(folder), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(DatasetError, match="unreadable") as e:
        storage.read_transitions(folder, "toy-v0")
    assert "Fix:" in str(e.value)


def test_an_empty_dataset_is_refused(tmp_path):
    import minari
    from minari.dataset.minari_storage import MinariStorage

    folder = storage.agent_storage(tmp_path) / "empty-v0"
    (folder / "data").mkdir(parents=True)
    empty = MinariStorage.new(folder / "data", OBS_SPACE, ACT_SPACE, data_format="arrow")
    empty.update_metadata({"dataset_id": "empty-v0", "minari_version": minari.__version__})
    with pytest.raises(DatasetError, match="holds no steps"):
        storage.read_transitions(folder, "empty-v0")
    with pytest.raises(DatasetError, match="no complete episode"):
        storage.write_dataset(tmp_path / "x", "x-v0", [], OBS_SPACE, ACT_SPACE)


def test_missing_dataset_names_what_exists(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "user"))
    write(tmp_path)
    with pytest.raises(DatasetError, match="recorded here: toy-v0") as e:
        storage.find_dataset(tmp_path, "nope-v0")
    assert "agentos record" in str(e.value)


def test_user_minari_storage_is_searched_after_the_agent_folder(tmp_path, monkeypatch):
    user = tmp_path / "user"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(user))
    storage.write_dataset(user / "theirs-v0", "theirs-v0", make_episodes(), OBS_SPACE, ACT_SPACE)
    assert storage.find_dataset(tmp_path / "agent", "theirs-v0") == user / "theirs-v0"


def test_existing_dataset_is_not_overwritten_and_bad_names_are_refused(tmp_path):
    folder, _ = write(tmp_path)
    with pytest.raises(DatasetError, match="already exists"):
        storage.write_dataset(folder, "toy-v0", make_episodes(), OBS_SPACE, ACT_SPACE)
    for bad in ("", "../up", "/abs", "a b", "é-v0", "a//b", "a/", ".hidden", "a/../b"):
        with pytest.raises(DatasetError, match="invalid dataset name"):
            storage.check_name(bad)
    for good in ("toy-v0", "cartpole_expert-v1", "D4RL/door/human-v2", "v1.2-v0"):
        storage.check_name(good)


def test_an_interrupted_write_leaves_no_half_dataset(tmp_path, monkeypatch):
    def interrupted(folder):  # the episodes are on disk, the sidecar not yet
        assert list((folder / "data").rglob("*"))
        raise KeyboardInterrupt

    folder = tmp_path / "toy-v0"
    with monkeypatch.context() as patch:
        patch.setattr(storage, "dataset_digest", interrupted)
        with pytest.raises(KeyboardInterrupt):
            storage.write_dataset(folder, "toy-v0", make_episodes(), OBS_SPACE, ACT_SPACE)
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor its partial folder
    digest = storage.write_dataset(folder, "toy-v0", make_episodes(), OBS_SPACE, ACT_SPACE)
    assert storage.verify(folder, "toy-v0") == digest  # the retry writes a whole dataset
    assert [p.name for p in tmp_path.iterdir()] == ["toy-v0"]


def test_a_folder_that_is_no_dataset_is_not_written_into(tmp_path):
    folder = tmp_path / "toy-v0"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="holds no dataset"):
        storage.write_dataset(folder, "toy-v0", make_episodes(), OBS_SPACE, ACT_SPACE)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("text", ["[]", '"a string"', "null", "7"])
def test_a_record_that_is_not_an_object_is_refused(tmp_path, text):
    folder, _ = write(tmp_path)
    (folder / storage.SIDECAR).write_text(text)
    with pytest.raises(DatasetError, match="not agentos's record") as e:
        storage.verify(folder, "toy-v0")
    assert "Fix:" in str(e.value) and storage.SIDECAR in str(e.value)
