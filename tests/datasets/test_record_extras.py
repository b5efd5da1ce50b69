"""`agentos record` keeps the actor's per-step extras (recurrent state, mixture arm) as Minari
infos, aligned with the observations; recurrent CQL starts its sequences from them."""

from __future__ import annotations

import numpy as np

from agentos.datasets.offline_api import play_episodes
from agentos.runtime.roles import EnvStep


class _CountingEnv:
    """N copies whose episode ``k`` (counted over all copies) lasts ``3 + k % 3`` steps;
    observations are [copy, step in episode]."""

    def __init__(self, num_envs: int = 2):
        self.num_envs = num_envs
        self._t = np.zeros(num_envs, int)
        self._length = np.zeros(num_envs, int)
        self._episodes = 0

    def _start(self, i: int) -> None:
        self._t[i] = 0
        self._length[i] = 3 + self._episodes % 3
        self._episodes += 1

    def _obs(self) -> np.ndarray:
        return np.stack([np.arange(self.num_envs), self._t], axis=1).astype(np.float32)

    def reset(self, seed: int) -> np.ndarray:
        for i in range(self.num_envs):
            self._start(i)
        return self._obs()

    def step(self, action: np.ndarray) -> EnvStep:
        self._t += 1
        done = self._t >= self._length
        final = self._obs()
        for i in np.flatnonzero(done):
            self._start(int(i))
        return EnvStep(
            observation=self._obs(),
            reward=np.ones(self.num_envs, np.float32),
            terminated=done.copy(),
            truncated=np.zeros(self.num_envs, bool),
            final_observation=final,
        )


class _MixtureActor:
    """A recurrent actor whose "LSTM state" is the number of steps seen in the episode and
    whose arm is drawn (10 + a counter) when an episode starts (-1 until then), as
    Agent57's."""

    def __init__(self) -> None:
        self.arms_drawn = 0

    def initial_extras(self, n: int) -> dict:
        return {
            "lstm_h": np.zeros((n, 2, 3), np.float32),
            "lstm_c": np.zeros((n, 2, 3), np.float32),
            "arm": np.full(n, -1, np.int32),
        }

    def select_action(self, observation, extras, *, explore, env_steps):
        arm = extras["arm"].copy()
        for i in np.flatnonzero(arm < 0):
            arm[i] = 10 + self.arms_drawn
            self.arms_drawn += 1
        state = {k: extras[k] + 1 for k in ("lstm_h", "lstm_c")}
        return np.zeros(len(arm), np.int64), {**state, "arm": arm}

    def after_step(self, extras, step):
        return extras


def test_recorded_extras_are_the_state_acted_from_and_the_arm_chosen():
    episodes = play_episodes(_CountingEnv(), _MixtureActor(), 5, seed=0, explore=False, env_steps=0)
    assert len(episodes) == 5
    arms = set()
    for ep in episodes:
        steps = len(ep.rewards)
        assert set(ep.extras) == {"lstm_h", "lstm_c", "arm"}
        assert ep.extras["lstm_h"].shape == (steps + 1, 2, 3)
        # row t: the state after t steps of this episode (zero at its start, never the previous
        # episode's); the last row is the state after the last step
        expected = np.arange(steps + 1, dtype=np.float32)[:, None, None]
        np.testing.assert_array_equal(
            ep.extras["lstm_h"], np.broadcast_to(expected, (steps + 1, 2, 3))
        )
        np.testing.assert_array_equal(ep.extras["lstm_c"], ep.extras["lstm_h"])
        np.testing.assert_array_equal(ep.observations[:, 1], np.arange(steps + 1))
        (arm,) = set(ep.extras["arm"].tolist())  # one arm per episode, chosen at its start
        arms.add(arm)
    assert len(arms) == 5 and min(arms) >= 10


def test_an_actor_without_extras_records_none():
    class _Plain(_MixtureActor):
        def initial_extras(self, n: int) -> dict:
            return {}

        def select_action(self, observation, extras, *, explore, env_steps):
            return np.zeros(len(observation), np.int64), {}

    episodes = play_episodes(_CountingEnv(), _Plain(), 3, seed=0, explore=False, env_steps=0)
    assert [ep.extras for ep in episodes] == [{}, {}, {}]


R2D2_TINY = [
    *("-p", "network.hidden_sizes=[8]", "-p", "network.lstm_size=6"),
    *("-p", "network.head_hidden=8", "-p", "environment.num_envs=2"),
]


def test_r2d2_record_stores_its_lstm_state_and_recurrent_cql_starts_from_it(
    cli, agent_dir, monkeypatch
):
    import minari

    from agentos.datasets.sequences import OfflineSequenceDataset
    from agentos.datasets.storage import agent_storage, read_sidecar
    from tests.datasets.test_component import _context

    code, _, err = cli("install", "r2d2", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    code, out, err = cli(
        "record", "--episodes", 3, "--dataset", "r2d2-v0", *R2D2_TINY, "--agent", agent_dir
    )
    assert code == 0, err
    assert read_sidecar(agent_storage(agent_dir) / "r2d2-v0")["extras"] == ["lstm_c", "lstm_h"]
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(agent_storage(agent_dir)))
    dataset = minari.load_dataset("r2d2-v0")
    for ep in dataset.iterate_episodes():
        h, c = ep.infos["lstm_h"], ep.infos["lstm_c"]
        assert h.shape == c.shape == (len(ep.rewards) + 1, 6) and h.dtype == np.float32
        assert not h[0].any() and not c[0].any()  # each episode starts from the zero state
        assert h[1:].any(axis=1).all()  # then the network's state, step by step
        assert len({tuple(row) for row in h}) == len(h)
    params = OfflineSequenceDataset.Params(
        dataset="r2d2-v0", burn_in=1, trace_length=3, period=2, state_size=6
    )
    context = _context(agent_dir, dataset.observation_space, dataset.action_space)
    sequences = OfflineSequenceDataset(params, context)
    assert sequences.lineage()["start_state"] == "stored"
    stored = {tuple(row) for ep in dataset.iterate_episodes() for row in ep.infos["lstm_h"]}
    starts = sequences.sample(8).items["lstm_h"]
    assert all(tuple(row) in stored for row in starts) and starts.any()


def test_agent57_record_stores_both_heads_states_and_the_arm(cli, agent_dir, monkeypatch):
    import minari

    from agentos.datasets.storage import agent_storage

    code, _, err = cli("install", "agent57", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    code, _, err = cli(
        "record", "--episodes", 2, "--dataset", "a57-v0", "-p", "environment.num_envs=2",
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(agent_storage(agent_dir)))
    for ep in minari.load_dataset("a57-v0").iterate_episodes():
        assert set(ep.infos) == {"lstm_h", "lstm_c", "arm"}
        assert ep.infos["lstm_h"].shape[:2] == (len(ep.rewards) + 1, 2)  # (extrinsic, intrinsic)
        assert not ep.infos["lstm_h"][0].any() and ep.infos["lstm_h"][-1].any()
        (arm,) = set(ep.infos["arm"].tolist())  # the evaluation arm the episode was played with
        assert arm >= 0
