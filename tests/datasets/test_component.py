"""The dataset component samples exactly what uniform_replay samples from the same steps."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from agentos.datasets.component import OfflineDataset
from agentos.datasets.storage import DatasetError
from agentos.replay.uniform import FIELDS, UniformReplay
from agentos.runtime.roles import BuildContext, Transition
from tests.datasets.helpers import ACT_SPACE, OBS_SPACE, write


def _context(agent_dir, obs_space=OBS_SPACE, act_space=ACT_SPACE) -> BuildContext:
    return BuildContext(
        name="replay",
        seed=3,
        agent_dir=agent_dir,
        observation_space=obs_space,
        action_space=act_space,
        num_envs=1,
    )


def _uniform_replay_fed(episodes, context, n_step: int) -> UniformReplay:
    """A uniform_replay that saw the episodes' steps one at a time, as the loop feeds it."""
    total = sum(len(ep.rewards) for ep in episodes)
    replay = UniformReplay(UniformReplay.Params(capacity=total, n_step=n_step), context)
    for ep in episodes:
        for t in range(len(ep.rewards)):
            replay.add(
                Transition(
                    observation=ep.observations[t : t + 1],
                    action=ep.actions[t : t + 1],
                    reward=ep.rewards[t : t + 1],
                    terminated=ep.terminations[t : t + 1],
                    truncated=ep.truncations[t : t + 1],
                    next_observation=ep.observations[t + 1 : t + 2],
                )
            )
    return replay


@pytest.mark.parametrize("n_step", [1, 3])
def test_batches_equal_uniform_replay_batches(tmp_path, n_step):
    _, episodes = write(tmp_path, lengths=(4, 6, 3))
    context = _context(tmp_path)
    dataset = OfflineDataset(OfflineDataset.Params(dataset="toy-v0", n_step=n_step), context)
    replay = _uniform_replay_fed(episodes, context, n_step)
    assert len(dataset) == len(replay) == 13
    ours, theirs = dataset.sample_many(5, 8), replay.sample_many(5, 8)
    assert set(ours) == set(FIELDS)
    for key in FIELDS:
        assert ours[key].dtype == theirs[key].dtype, key
        np.testing.assert_array_equal(ours[key], theirs[key], err_msg=key)
    single = dataset.sample(8)
    assert single["observation"].shape == (8, 4) and single["action"].shape == (8,)


def test_resume_restores_the_sampler_and_refuses_another_dataset(tmp_path):
    write(tmp_path)
    context = _context(tmp_path)
    first = OfflineDataset(OfflineDataset.Params(dataset="toy-v0"), context)
    first.sample(4)
    state = first.state_dict()
    assert set(state) == {"rng", "digest"}  # the data stays on disk, not in checkpoints
    expected = first.sample(4)
    again = OfflineDataset(OfflineDataset.Params(dataset="toy-v0"), context)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.sample(4)["observation"], expected["observation"])
    other = OfflineDataset(OfflineDataset.Params(dataset="toy-v0"), context)
    other.load_state_dict({**state, "digest": "sha256:other"})
    with pytest.raises(DatasetError, match="resume with the original dataset"):
        other.sample(4)


def test_lineage_and_read_only(tmp_path):
    write(tmp_path)
    dataset = OfflineDataset(OfflineDataset.Params(dataset="toy-v0"), _context(tmp_path))
    lineage = dataset.lineage()
    assert lineage["name"] == "toy-v0" and lineage["digest"].startswith("sha256:")
    assert lineage["steps"] == 10 and lineage["episodes"] == 3
    assert lineage["recorded"]["digest"] == lineage["digest"]
    with pytest.raises(DatasetError, match="agentos learn --offline"):
        dataset.add(None)


def test_spaces_that_differ_from_the_environment_are_refused(tmp_path):
    write(tmp_path)
    other_obs = gymnasium.spaces.Box(-1.0, 1.0, (8,), np.float32)
    with pytest.raises(DatasetError, match="does not fit this agent's environment"):
        OfflineDataset(OfflineDataset.Params(dataset="toy-v0"), _context(tmp_path, other_obs))
    with pytest.raises(DatasetError, match="actions Discrete"):
        OfflineDataset(
            OfflineDataset.Params(dataset="toy-v0"),
            _context(tmp_path, act_space=gymnasium.spaces.Discrete(4)),
        )


def test_no_dataset_name_says_how_to_set_one(tmp_path):
    with pytest.raises(DatasetError, match="learn --offline --dataset NAME"):
        OfflineDataset(OfflineDataset.Params(), _context(tmp_path))
