"""The sequence adder on hand-made episodes: cutting with overlap, padding, the final
observation step, the reward / prev_action / prev_reward alignment, stored states, resume."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest

from agentos.agents.r2d2.adder import SequenceAdder
from agentos.errors import ParameterError
from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint


class ListReplay:
    """Records every add_items call."""

    def __init__(self):
        self.calls: list[dict[str, np.ndarray]] = []

    def add_items(self, items, priorities=None):
        self.calls.append({k: np.array(v) for k, v in items.items()})

    @property
    def sequences(self) -> list[dict[str, np.ndarray]]:
        return [
            {k: v[i] for k, v in call.items()}
            for call in self.calls
            for i in range(len(next(iter(call.values()))))
        ]


def obs_id(episode: int, t: int) -> float:
    """The observation x_t of an episode: its id, 100 * episode + t."""
    return 100.0 * episode + t


def run_episode(adder, episode, length, *, truncated=False, env=0, num_envs=1):
    """Feed one episode of ``length`` actions to env ``env``: a_t = t % 3, r_{t+1} = t + 1,
    mu_t = 0.5 + t / 100, LSTM state at t = (x_t, -x_t)."""
    for t in range(length):
        last = t == length - 1
        obs = np.zeros((num_envs, 1), np.float32)
        obs[env, 0] = obs_id(episode, t)
        nxt = np.zeros((num_envs, 1), np.float32)
        nxt[env, 0] = obs_id(episode, t + 1)
        action = np.zeros(num_envs, np.int64)
        action[env] = t % 3
        reward = np.zeros(num_envs, np.float32)
        reward[env] = t + 1
        term = np.zeros(num_envs, bool)
        trunc = np.zeros(num_envs, bool)
        if last:
            (trunc if truncated else term)[env] = True
        state = np.zeros((num_envs, 2), np.float32)
        state[env] = [obs_id(episode, t), -obs_id(episode, t)]
        mu = np.zeros(num_envs, np.float32)
        mu[env] = 0.5 + t / 100
        adder.add(
            obs,
            action,
            reward,
            term,
            trunc,
            nxt,
            start_state={"h": state},
            step_extras={"mu": mu},
        )


def test_cutting_overlap_padding_and_alignment_on_a_terminated_episode():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=1, burn_in=1, trace_length=3, period=2)
    run_episode(adder, episode=0, length=6)
    seqs = replay.sequences
    # T = 4, period 2. The first sequence starts with one padding step (its burn-in), so its
    # trace is x_0..x_2; the others start at x_1 and x_3 (traces x_2..x_4 and x_4..x_6: the
    # final x_6 and no padding). None starts at x_5: its trace would hold no real action.
    assert len(seqs) == 3
    first, second, last = seqs
    np.testing.assert_array_equal(first["observation"][:, 0], [0, 0, 1, 2])  # padding: 0
    np.testing.assert_array_equal(second["observation"][:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(last["observation"][:, 0], [3, 4, 5, 6])
    # action a_t = t % 3; padding and the final step get action 0.
    np.testing.assert_array_equal(first["action"], [0, 0, 1, 2])
    np.testing.assert_array_equal(second["action"], [1, 2, 0, 1])
    np.testing.assert_array_equal(last["action"], [0, 1, 2, 0])
    # reward[t] = r_t, received on arriving at x_t = t (0 at the episode start and padding).
    np.testing.assert_array_equal(first["reward"], [0, 0, 1, 2])
    np.testing.assert_array_equal(last["reward"], [3, 4, 5, 6])
    np.testing.assert_array_equal(last["prev_reward"], last["reward"])
    np.testing.assert_array_equal(first["prev_reward"], first["reward"])
    # prev_action = a_{t-1}: 0 at the episode start, action[t-1] inside a sequence.
    np.testing.assert_array_equal(first["prev_action"], [0, 0, 0, 1])
    np.testing.assert_array_equal(second["prev_action"], [0, 1, 2, 0])
    np.testing.assert_array_equal(last["prev_action"], [2, 0, 1, 2])
    # discount: 1 at ordinary steps, 0 at padding and at the terminal x_6.
    np.testing.assert_array_equal(first["discount"], [0, 1, 1, 1])
    np.testing.assert_array_equal(second["discount"], [1, 1, 1, 1])
    np.testing.assert_array_equal(last["discount"], [1, 1, 1, 0])
    # mask: real actions only.
    np.testing.assert_array_equal(first["mask"], [0, 1, 1, 1])
    np.testing.assert_array_equal(second["mask"], [1, 1, 1, 1])
    np.testing.assert_array_equal(last["mask"], [1, 1, 1, 0])
    # Step extras: the padding carries x_0's (Agent57 reads a sequence's arm at step 0).
    np.testing.assert_allclose(first["mu"], [0.5, 0.5, 0.51, 0.52], rtol=1e-6)
    np.testing.assert_allclose(last["mu"], [0.53, 0.54, 0.55, 0], rtol=1e-6)
    # The stored state is the actor's at each sequence's first real step (x_0 for padding).
    np.testing.assert_array_equal([s["h"] for s in seqs], [[0, -0], [1, -1], [3, -3]])
    assert adder.sequences_added == 3


def test_episode_starts_are_padded_for_every_episode_and_environment():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=1, burn_in=2, trace_length=2, period=2)
    run_episode(adder, episode=0, length=3)
    run_episode(adder, episode=1, length=3)
    starts = [s for s in replay.sequences if s["mask"][:2].sum() == 0]
    assert len(starts) == 2  # one per episode, its trace x_0, x_1
    for episode, seq in enumerate(starts):
        np.testing.assert_array_equal(
            seq["observation"][:, 0], [0, 0, 100 * episode, 100 * episode + 1]
        )
        np.testing.assert_array_equal(seq["h"], [100 * episode, -100 * episode])


def test_truncated_episode_final_step_bootstraps():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=1, burn_in=0, trace_length=4, period=4)
    run_episode(adder, episode=0, length=3, truncated=True)
    (seq,) = replay.sequences
    np.testing.assert_array_equal(seq["observation"][:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(seq["reward"], [0, 1, 2, 3])
    np.testing.assert_array_equal(seq["discount"], [1, 1, 1, 1])  # x_3 truncated: bootstrap
    np.testing.assert_array_equal(seq["mask"], [1, 1, 1, 0])
    np.testing.assert_array_equal(seq["prev_action"], [0, 0, 1, 2])


def test_final_step_may_fall_into_the_next_sequence():
    # The episode's 3rd action fills the padded first sequence; x_4 then starts the flush of
    # the one that overlaps it.
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=1, burn_in=1, trace_length=3, period=2)
    run_episode(adder, episode=0, length=4)
    seqs = replay.sequences
    assert len(seqs) == 2
    np.testing.assert_array_equal(seqs[0]["mask"], [0, 1, 1, 1])
    np.testing.assert_array_equal(seqs[1]["observation"][:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(seqs[1]["mask"], [1, 1, 1, 0])
    np.testing.assert_array_equal(seqs[1]["discount"], [1, 1, 1, 0])


def test_an_episode_shorter_than_the_burn_in_still_gets_its_trace():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=1, burn_in=3, trace_length=4, period=2)
    run_episode(adder, episode=0, length=3)
    # three padding steps, x_0..x_2, the terminal x_3; the next start would be padding, so it
    # is x_0, whose trace (x_3 on) holds no real action: one sequence
    (seq,) = replay.sequences
    np.testing.assert_array_equal(seq["observation"][:, 0], [0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(seq["mask"], [0, 0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(seq["discount"], [0, 0, 0, 1, 1, 1, 0])
    run_episode(adder, episode=1, length=8)
    # padded (trace x_0..x_3), then from x_0 (padding would remain: trace x_3..x_6), x_2
    # (x_5..x_8, with the final step) and no more (x_4's trace x_7, x_8 has one action)
    firsts = [s["observation"][3, 0] for s in replay.sequences[1:]]
    np.testing.assert_array_equal(firsts, [100, 103, 105, 107])


def run_envs(adder, episodes_per_env):
    """Step N environments together; env i plays its episodes (id, length) back to back.
    The episode lists of all envs have the same total length."""
    num_envs = len(episodes_per_env)
    schedule = [
        [(ep, t, length) for ep, length in eps for t in range(length)] for eps in episodes_per_env
    ]
    for k in range(len(schedule[0])):
        obs = np.array([[obs_id(ep, t)] for ep, t, _ in (s[k] for s in schedule)], np.float32)
        last = np.array([t == length - 1 for _, t, length in (s[k] for s in schedule)])
        action = np.array([t % 3 for _, t, _ in (s[k] for s in schedule)])
        adder.add(
            obs,
            action,
            obs[:, 0] % 100 + 1,
            last,
            np.zeros(num_envs, bool),
            obs + 1,
            start_state={"h": np.concatenate([obs, -obs], axis=1)},
            step_extras={"mu": np.full(num_envs, 0.5, np.float32)},
        )


def test_no_sequence_spans_two_episodes_and_envs_are_independent():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=2, burn_in=2, trace_length=3, period=2)
    episodes = [[(0, 7), (1, 3), (2, 2)], [(10, 4), (11, 8)]]
    run_envs(adder, episodes)
    seqs = replay.sequences
    assert seqs
    for seq in seqs:
        real = seq["observation"][:, 0][seq["mask"] > 0]
        assert len(set((real // 100).astype(int).tolist())) == 1
        # Steps are consecutive and the state is the first real step's (x_0's after padding).
        np.testing.assert_array_equal(np.diff(real), np.ones(len(real) - 1))
        assert seq["h"][0] == real[0]
        if seq["mask"][0] == 0:  # an episode's first sequence: its burn-in is padding
            assert seq["mask"][:2].sum() == 0 and real[0] % 100 == 0
        inside = seq["mask"][1:] > 0
        np.testing.assert_array_equal(seq["prev_action"][1:][inside], seq["action"][:-1][inside])
        np.testing.assert_array_equal(seq["prev_reward"], seq["reward"])
    # Every real action of every episode is in some sequence's trace, x_0 included.
    traced = set()
    for seq in seqs:
        traced.update(seq["observation"][2:, 0][seq["mask"][2:] > 0].tolist())
    for eps in episodes:
        for episode, length in eps:
            for t in range(length):
                assert obs_id(episode, t) in traced


def test_sequences_of_one_call_go_to_replay_together():
    replay = ListReplay()
    adder = SequenceAdder(replay, num_envs=3, burn_in=0, trace_length=2, period=2)
    obs = np.zeros((3, 1), np.float32)
    for _ in range(2):
        adder.add(
            obs,
            np.zeros(3, np.int64),
            np.ones(3, np.float32),
            np.zeros(3, bool),
            np.zeros(3, bool),
            obs,
            start_state={"h": np.zeros((3, 2), np.float32)},
        )
    assert len(replay.calls) == 1
    assert replay.calls[0]["observation"].shape == (3, 2, 1)


def test_state_dict_round_trip_continues_exactly(tmp_path: Path):
    replay_a = ListReplay()
    adder_a = SequenceAdder(replay_a, num_envs=1, burn_in=1, trace_length=3, period=2)
    # Stop mid-episode: feed the first 5 steps of a 9-step episode by hand.
    run_episode(adder_a, episode=0, length=4)  # a whole episode first
    for t in range(3):  # then part of episode 1 (not finished)
        x = np.array([[obs_id(1, t)]], np.float32)
        adder_a.add(
            x,
            np.array([t % 3]),
            np.array([t + 1.0], np.float32),
            np.array([False]),
            np.array([False]),
            x + 1,
            start_state={"h": np.array([[x[0, 0], -x[0, 0]]])},
            step_extras={"mu": np.array([0.5], np.float32)},
        )
    path = save_checkpoint(tmp_path / "adder.msgpack", {"adder": adder_a.state_dict()})
    replay_b = ListReplay()
    adder_b = SequenceAdder(replay_b, num_envs=1, burn_in=1, trace_length=3, period=2)
    adder_b.load_state_dict(load_checkpoint(path)["adder"])
    before = len(replay_a.sequences)
    for adder in (adder_a, adder_b):
        for t in range(3, 6):
            x = np.array([[obs_id(1, t)]], np.float32)
            adder.add(
                x,
                np.array([t % 3]),
                np.array([t + 1.0], np.float32),
                np.array([t == 5]),
                np.array([False]),
                x + 1,
                start_state={"h": np.array([[x[0, 0], -x[0, 0]]])},
                step_extras={"mu": np.array([0.5], np.float32)},
            )
    after_a = replay_a.sequences[before:]
    after_b = replay_b.sequences
    assert len(after_a) == len(after_b) == 2  # from x_1 and x_3 (x_0..x_2 came before)
    for sa, sb in zip(after_a, after_b, strict=True):
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])
            assert sa[key].dtype == sb[key].dtype


def test_stored_start_state_is_the_actors_state_at_that_step():
    """Drive the real actor like the loop does and compare stored states with its extras."""
    from agentos.agents.r2d2.actor import R2D2Actor
    from agentos.agents.r2d2.network import RecurrentQNetwork
    from agentos.runtime.loop import _reset_extras
    from agentos.runtime.roles import BuildContext, EnvStep, Transition

    obs_space = gymnasium.spaces.Box(-1e6, 1e6, (1,), np.float32)
    act_space = gymnasium.spaces.Discrete(2)
    num_envs = 2

    def ctx(name):
        return BuildContext(
            name=name,
            seed=0,
            agent_dir=Path("."),
            observation_space=obs_space,
            action_space=act_space,
            num_envs=num_envs,
        )

    net = RecurrentQNetwork(
        RecurrentQNetwork.Params(hidden_sizes=(8,), lstm_size=4, head_hidden=0), ctx("network")
    )
    replay = ListReplay()
    actor = R2D2Actor(
        R2D2Actor.Params(burn_in=2, trace_length=3, period=2),
        ctx("actor"),
        network=net,
        replay=replay,
    )
    lengths = [[6, 4], [5, 7]]  # episode lengths per env
    t_env = [0, 0]
    ep_env = [0, 0]
    seen: dict[float, np.ndarray] = {}
    obs = np.array([[obs_id(0, 0)], [obs_id(10, 0)]], np.float32)
    extras = actor.initial_extras(num_envs)
    for _ in range(11):
        action, new_extras = actor.select_action(obs, extras, explore=True, env_steps=0)
        for i in range(num_envs):
            seen[float(obs[i, 0])] = extras["lstm_h"][i].copy()
        done = np.array([t_env[i] + 1 == lengths[i][ep_env[i] % 2] for i in range(num_envs)])
        nxt = obs + 1
        step = EnvStep(
            observation=np.where(
                done[:, None],
                np.array([[obs_id(ep_env[0] + 1, 0)], [obs_id(10 + ep_env[1] + 1, 0)]]),
                nxt,
            ).astype(np.float32),
            reward=np.ones(num_envs, np.float32),
            terminated=done,
            truncated=np.zeros(num_envs, bool),
            final_observation=nxt,
        )
        actor.observe(
            Transition(
                obs,
                action,
                step.reward,
                step.terminated,
                step.truncated,
                step.final_observation,
                extras,
            )
        )
        extras = _reset_extras(actor, actor.after_step(new_extras, step), done)
        for i in range(num_envs):
            t_env[i] = 0 if done[i] else t_env[i] + 1
            ep_env[i] += int(done[i])
        obs = step.observation
    seqs = replay.sequences
    assert len(seqs) >= 3
    for seq in seqs:
        first_obs = float(seq["observation"][seq["mask"] > 0][0, 0])  # after any padding
        np.testing.assert_allclose(seq["lstm_h"], seen[first_obs], rtol=1e-6)
        if first_obs % 100 == 0:  # an episode start: the zero state
            np.testing.assert_array_equal(seq["lstm_h"], 0.0)
        else:
            assert np.abs(seq["lstm_h"]).sum() > 0


def test_invalid_cutting_parameters_are_errors():
    with pytest.raises(ParameterError, match="period"):
        SequenceAdder(ListReplay(), 1, burn_in=2, trace_length=3, period=6)
    with pytest.raises(ParameterError, match="trace_length"):
        SequenceAdder(ListReplay(), 1, burn_in=2, trace_length=1, period=1)


def _cut_episode(steps: list[dict], burn_in: int, trace_length: int, period: int) -> list[dict]:
    """The docstring's rule for one whole episode (its final step included): ``burn_in``
    padding steps first (zeros, mask 0, the first step's extras and state), a sequence every
    ``period`` steps (at x_0 at the latest) while its trace holds a real action, padded with
    zeros to T."""
    length = burn_in + trace_length
    first = steps[0]
    pad = {k: (v if k in ("mu", "h") else np.zeros_like(v)) for k, v in first.items()}
    steps = [pad] * burn_in + steps
    sequences, start = [], 0
    while sum(s["mask"] for s in steps[start + burn_in : start + length]) > 0:
        part = steps[start : start + length]
        sequence = {}
        for key in part[0]:
            values = np.stack([s[key] for s in part])
            tail = np.zeros((length - len(part),) + values.shape[1:], values.dtype)
            sequence[key] = values if key == "h" else np.concatenate([values, tail])
        sequence["h"] = part[0]["h"]
        sequences.append(sequence)
        start = max(start + period, burn_in) if start == 0 else start + period
    return sequences


def test_many_environments_with_episodes_ending_at_random_steps_match_the_rule():
    # 7 environments, episodes of 1-23 actions ending (terminated or truncated) at random
    # steps, a checkpoint round trip half-way: every emitted sequence must be one that the
    # per-episode rule makes, the same number of times.
    burn_in, trace_length, period, n = 2, 5, 3, 7
    rng = np.random.default_rng(4)
    replay = ListReplay()
    adder = SequenceAdder(replay, n, burn_in, trace_length, period, reward_shape=(2,))
    lengths, t = rng.integers(1, 24, n), np.zeros(n, int)
    episode_steps: list[list[dict]] = [[] for _ in range(n)]
    prev_action, reward_in = np.zeros(n, np.int32), np.zeros((n, 2), np.float32)
    expected: list[dict] = []
    for step in range(400):
        obs = rng.normal(size=(n, 3)).astype(np.float32)
        nxt = rng.normal(size=(n, 3)).astype(np.float32)
        action = rng.integers(0, 4, n)
        reward = rng.normal(size=(n, 2)).astype(np.float32)
        mu = rng.random(n).astype(np.float32)
        h = rng.normal(size=(n, 2)).astype(np.float32)
        t += 1
        ended = t >= lengths
        term = ended & (rng.random(n) < 0.5)
        for i in range(n):
            episode_steps[i].append(
                dict(observation=obs[i], action=np.int32(action[i]), reward=reward_in[i],
                     discount=np.float32(1), prev_action=prev_action[i], prev_reward=reward_in[i],
                     mask=np.float32(1), mu=mu[i], h=h[i])
            )  # fmt: skip
            if ended[i]:
                episode_steps[i].append(
                    dict(observation=nxt[i], action=np.int32(0), reward=reward[i],
                         discount=np.float32(0 if term[i] else 1), prev_action=np.int32(action[i]),
                         prev_reward=reward[i], mask=np.float32(0), mu=np.float32(0),
                         h=np.zeros(2, np.float32))
                )  # fmt: skip
                expected += _cut_episode(episode_steps[i], burn_in, trace_length, period)
                episode_steps[i] = []
        adder.add(obs, action, reward, term, ended & ~term, nxt,
                  start_state={"h": h}, step_extras={"mu": mu})  # fmt: skip
        prev_action = np.where(ended, 0, action).astype(np.int32)
        reward_in = np.where(ended[:, None], 0, reward).astype(np.float32)
        t[ended], lengths[ended] = 0, rng.integers(1, 24, int(ended.sum()))
        if step == 200:
            restored = SequenceAdder(replay, n, burn_in, trace_length, period, reward_shape=(2,))
            restored.load_state_dict(adder.state_dict())
            adder = restored

    def key(sequence: dict) -> bytes:
        return b"".join(np.ascontiguousarray(sequence[k]).tobytes() for k in sorted(sequence))

    got = replay.sequences
    # Sequences of unfinished episodes are emitted before the rule sees them: compare those
    # of finished episodes only (each holds a masked final step or came before one).
    assert len(expected) > 150
    got_keys = sorted(key(s) for s in got)
    for sequence in expected:
        assert key(sequence) in got_keys
        got_keys.remove(key(sequence))
    left = [s for s in got if key(s) in got_keys]  # of the episodes still open at the end
    assert len(left) == len(got_keys) < n * 3
    for sequence in left:
        assert sequence["mask"][burn_in:].sum() == trace_length
    for sequence in got:
        assert {k: v.dtype for k, v in sequence.items()} == {
            k: v.dtype for k, v in expected[0].items()
        }
