"""Tests of the Agent57 sliding-window UCB meta-controller (Agent57, App. E).

The bandits are plain numpy (they run on the host between episodes), so there is no jit variant.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from agentos.agents.agent57.meta_controller import (
    EvaluatorMetaController,
    MetaController,
    SlidingWindowUCB,
)
from agentos.errors import CheckpointError, ParameterError


def _play(bandit: SlidingWindowUCB, rewards, episodes: int) -> list[int]:
    """Runs ``episodes`` select/update rounds where arm ``a`` always returns ``rewards[a]``."""
    chosen = []
    for _ in range(episodes):
        arm = bandit.select()
        bandit.update(arm, rewards[arm])
        chosen.append(arm)
    return chosen


# --------------------------------------------------------------------------- SlidingWindowUCB


@pytest.mark.parametrize("epsilon", [0.0, 0.5, 1.0])
def test_first_n_selections_are_each_arm_in_order(epsilon):
    bandit = SlidingWindowUCB(5, window=160, epsilon=epsilon, rng=0)
    # Rewards that would make UCB prefer arm 4 if it were already running.
    assert _play(bandit, [0.0, 0.0, 0.0, 0.0, 10.0], 5) == [0, 1, 2, 3, 4]
    assert bandit.num_selected == 5


def test_ucb_scores_by_hand_and_window_drops_oldest():
    bandit = SlidingWindowUCB(3, window=3, epsilon=0.0, beta=1.0, rng=0)
    for _ in range(3):
        bandit.select()  # the round-robin phase
    for arm, reward in [(0, 1.0), (0, 3.0), (1, 2.0), (0, 5.0)]:
        bandit.update(arm, reward)
    # Window of 3 keeps (0, 3), (1, 2), (0, 5); (0, 1) is forgotten.
    np.testing.assert_array_equal(bandit.counts(), [2, 1, 0])
    np.testing.assert_allclose(bandit.means(), [4.0, 2.0, 0.0])
    # arm 0: 4 + sqrt(1/2) = 4.7071068; arm 1: 2 + sqrt(1/1) = 3; arm 2: absent -> inf.
    np.testing.assert_allclose(bandit.ucb_scores(), [4.7071068, 3.0, np.inf], rtol=1e-7)
    assert bandit.select() == 2  # the arm missing from the window goes first
    bandit.update(2, 0.5)
    # Window now (1, 2), (0, 5), (2, 0.5): scores 5 + 1 = 6, 2 + 1 = 3, 0.5 + 1 = 1.5.
    np.testing.assert_allclose(bandit.ucb_scores(), [6.0, 3.0, 1.5])
    assert bandit.select() == 0


def test_ucb_bonus_scales_with_beta():
    bandit = SlidingWindowUCB(2, window=10, epsilon=0.0, beta=2.0, rng=0)
    for arm, reward in [(0, 1.0), (0, 3.0), (0, 2.0), (0, 2.0), (1, 3.0)]:
        bandit.update(arm, reward)
    # arm 0: mean 2, count 4 -> 2 + 2 sqrt(1/4) = 3; arm 1: 3 + 2 sqrt(1) = 5.
    np.testing.assert_allclose(bandit.ucb_scores(), [3.0, 5.0])


def test_ucb_ties_go_to_lowest_index():
    bandit = SlidingWindowUCB(3, window=10, epsilon=0.0, rng=0)
    _play(bandit, [1.0, 1.0, 1.0], 3)
    assert bandit.select() == 0


def test_greedy_epsilon_zero_chooses_best_arm_most():
    bandit = SlidingWindowUCB(4, window=100, epsilon=0.0, rng=0)
    chosen = _play(bandit, [0.0, 0.2, 1.0, 0.1], 300)
    counts = np.bincount(chosen, minlength=4)
    # Arm 2 wins every UCB round (1 + bonus > 0.2 + 1); the others only come back when they have
    # dropped out of the 100-wide window, once per ~100 episodes.
    assert counts[2] >= 285, counts
    assert counts.argmax() == 2


def test_window_forgets_and_choice_follows_a_change_of_rewards():
    bandit = SlidingWindowUCB(2, window=10, epsilon=0.0, rng=0)
    before = _play(bandit, [1.0, 0.0], 30)
    assert before[2:].count(0) >= 25
    after = _play(bandit, [0.0, 1.0], 40)
    # Within one window the old arm's mean has dropped and arm 1 takes over; arm 0 only returns
    # when it falls out of the window (at most twice in 20 episodes).
    assert after[-20:].count(1) >= 18, after


def test_epsilon_one_is_uniform_after_round_robin():
    bandit = SlidingWindowUCB(4, window=160, epsilon=1.0, rng=123)
    chosen = _play(bandit, [0.0, 0.0, 10.0, 0.0], 4 + 4000)[4:]
    freq = np.bincount(chosen, minlength=4) / 4000
    # 1000 expected per arm, standard deviation sqrt(4000 * 0.25 * 0.75) = 27 -> +-5 sd = 0.034.
    np.testing.assert_allclose(freq, 0.25, atol=0.034)


def test_epsilon_mixes_random_and_ucb_choices():
    bandit = SlidingWindowUCB(4, window=1000, epsilon=0.5, rng=7)
    chosen = _play(bandit, [0.0, 0.0, 5.0, 0.0], 4 + 2000)[4:]
    counts = np.bincount(chosen, minlength=4)
    # Arm 2 wins every UCB round (5 + bonus > 0 + 1) and a quarter of the random ones:
    # (0.5 + 0.5 / 4) * 2000 = 1250, sd sqrt(2000 * 0.625 * 0.375) = 22.
    # The other arms come only from the random rounds: 0.125 * 2000 = 250 each, sd 15.
    assert 1150 < counts[2] < 1350, counts
    assert np.all((counts[[0, 1, 3]] > 180) & (counts[[0, 1, 3]] < 320)), counts


def test_means_of_empty_bandit_are_zero_and_counts_zero():
    bandit = SlidingWindowUCB(3, window=5, epsilon=0.1, rng=0)
    np.testing.assert_array_equal(bandit.counts(), [0, 0, 0])
    np.testing.assert_array_equal(bandit.means(), [0.0, 0.0, 0.0])
    assert bandit.greedy_arm() == 0


def test_greedy_arm_ignores_arms_absent_from_window():
    bandit = SlidingWindowUCB(3, window=5, epsilon=0.1, rng=0)
    bandit.update(0, -5.0)
    bandit.update(1, -1.0)
    # Arm 2 reports a mean of 0 but has no data: the greedy arm is 1, not 2.
    assert bandit.greedy_arm() == 1


def test_state_round_trip_gives_identical_future_choices():
    rewards = [0.3, 1.0, 0.2, 0.8, 0.5]
    original = SlidingWindowUCB(5, window=20, epsilon=0.5, rng=1)
    _play(original, rewards, 50)
    state = original.state_dict()
    saved = pickle.loads(pickle.dumps(copy.deepcopy(state)))
    expected = _play(original, rewards, 200)

    restored = SlidingWindowUCB(5, window=20, epsilon=0.5, rng=999)
    restored.load_state_dict(saved)
    assert _play(restored, rewards, 200) == expected
    # The saved dict was a snapshot: playing on did not change it.
    assert state["num_selected"] == 50 and len(state["arms"]) == 20


def test_state_dict_contents_are_plain():
    bandit = SlidingWindowUCB(3, window=4, epsilon=0.2, rng=0)
    _play(bandit, [1.0, 2.0, 3.0], 6)
    state = bandit.state_dict()
    assert state["num_selected"] == 6 and state["window"] == 4 and state["num_arms"] == 3
    assert state["arms"].dtype == np.int64 and state["rewards"].dtype == np.float64
    assert state["arms"].shape == (4,)
    assert state["rng_state"]["bit_generator"] == "PCG64"


def test_load_state_dict_rejects_mismatched_bandit():
    state = SlidingWindowUCB(3, window=4, epsilon=0.2, rng=0).state_dict()
    with pytest.raises(CheckpointError):
        SlidingWindowUCB(4, window=4, epsilon=0.2, rng=0).load_state_dict(state)
    with pytest.raises(CheckpointError):
        SlidingWindowUCB(3, window=5, epsilon=0.2, rng=0).load_state_dict(state)
    other_bitgen = SlidingWindowUCB(
        3, window=4, epsilon=0.2, rng=np.random.Generator(np.random.MT19937(0))
    )
    with pytest.raises(CheckpointError):
        other_bitgen.load_state_dict(state)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_arms": 0},
        {"num_arms": 2.0},
        {"window": 0},
        {"epsilon": -0.1},
        {"epsilon": 1.5},
        {"epsilon": float("nan")},
        {"beta": -1.0},
        {"beta": float("inf")},
    ],
)
def test_bad_parameters(kwargs):
    params = {"num_arms": 4, "window": 10, "epsilon": 0.5, **kwargs}
    with pytest.raises(ParameterError):
        SlidingWindowUCB(**params, rng=0)


def test_bad_updates():
    bandit = SlidingWindowUCB(3, window=10, epsilon=0.5, rng=0)
    for arm, reward in [(3, 1.0), (-1, 1.0), (0, math.nan), (0, math.inf)]:
        with pytest.raises(ParameterError):
            bandit.update(arm, reward)
    assert bandit.counts().sum() == 0


def test_bad_rng():
    with pytest.raises(ParameterError):
        SlidingWindowUCB(3, window=10, epsilon=0.5, rng="seed")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- MetaController


def test_meta_controller_one_bandit_per_env():
    mc = MetaController(num_envs=3, num_arms=4, window=160, epsilon=0.0, rng=0)
    # Each environment runs its own round robin, whatever the others do.
    assert [mc.select(0) for _ in range(2)] == [0, 1]
    assert [mc.select(1) for _ in range(4)] == [0, 1, 2, 3]
    assert mc.select(2) == 0
    mc.update(1, 3, 10.0)
    np.testing.assert_array_equal(mc.bandits[1].counts(), [0, 0, 0, 1])
    np.testing.assert_array_equal(mc.bandits[0].counts(), [0, 0, 0, 0])
    assert mc.num_arms == 4


def test_meta_controller_envs_have_independent_random_streams():
    mc = MetaController(num_envs=2, num_arms=8, window=160, epsilon=1.0, rng=0)
    picks = [[mc.select(e) for _ in range(8 + 50)][8:] for e in range(2)]
    assert picks[0] != picks[1]


def test_meta_controller_defaults_are_the_actor_values():
    mc = MetaController(num_envs=1, num_arms=32)
    assert mc.bandits[0].window == 160 and mc.bandits[0].epsilon == 0.5
    assert mc.bandits[0].beta == 1.0


def test_meta_controller_state_round_trip():
    rewards = np.array([0.0, 1.0, 0.5])

    def run(mc: MetaController, episodes: int) -> list[tuple[int, int]]:
        out = []
        for _ in range(episodes):
            for env in range(mc.num_envs):
                arm = mc.select(env)
                mc.update(env, arm, float(rewards[arm] + env))
                out.append((env, arm))
        return out

    original = MetaController(num_envs=2, num_arms=3, window=8, epsilon=0.5, rng=5)
    run(original, 20)
    state = pickle.loads(pickle.dumps(original.state_dict()))
    expected = run(original, 60)
    restored = MetaController(num_envs=2, num_arms=3, window=8, epsilon=0.5, rng=6)
    restored.load_state_dict(state)
    assert run(restored, 60) == expected
    with pytest.raises(CheckpointError):
        MetaController(num_envs=3, num_arms=3, window=8, epsilon=0.5, rng=0).load_state_dict(state)


def test_shared_meta_controller_learns_from_every_envs_episodes():
    mc = MetaController(num_envs=3, num_arms=4, window=160, epsilon=0.0, rng=0, shared=True)
    # One round robin across the environments, then one set of statistics for all of them.
    assert [mc.select(e) for e in (0, 1, 2, 0)] == [0, 1, 2, 3]
    for env, arm, episode_return in [(0, 0, 0.0), (1, 1, 0.0), (2, 2, 5.0), (0, 3, 0.0)]:
        mc.update(env, arm, episode_return)
    # UCB by hand: every arm once, so each bonus is 1; arm 2's mean 5 wins for every env.
    assert [mc.select(e) for e in range(3)] == [2, 2, 2]
    assert len(mc.bandits) == 1
    np.testing.assert_array_equal(mc.bandits[0].counts(), [1, 1, 1, 1])


def test_meta_controller_greedy_arm_pools_every_bandits_window():
    mc = MetaController(num_envs=2, num_arms=3, window=2, epsilon=0.0, rng=0)
    assert mc.greedy_arm() is None  # nothing played yet
    # env 0's window keeps its last two: arm 1 (0.0), arm 2 (0.6); env 1's: arm 2 (0.0),
    # arm 1 (1.0). Pooled means: arm 1 (0 + 1) / 2 = 0.5, arm 2 (0.6 + 0) / 2 = 0.3; arm 0
    # is absent from both windows (its 9.0 fell out) and is skipped.
    for env, arm, episode_return in [
        (0, 0, 9.0),
        (0, 1, 0.0),
        (0, 2, 0.6),
        (1, 2, 0.0),
        (1, 1, 1.0),
    ]:
        mc.update(env, arm, episode_return)
    assert mc.greedy_arm() == 1
    mc.update(1, 2, 1.0)  # env 1 now holds arm 1 (1.0), arm 2 (1.0): arm 2 (0.6 + 1) / 2 = 0.8
    assert mc.greedy_arm() == 2


def test_shared_meta_controller_state_must_match_on_load():
    shared = MetaController(num_envs=2, num_arms=3, window=8, epsilon=0.5, rng=5, shared=True)
    for env in (0, 1, 0):
        shared.update(env, shared.select(env), 1.0)
    state = pickle.loads(pickle.dumps(shared.state_dict()))
    restored = MetaController(num_envs=2, num_arms=3, window=8, epsilon=0.5, rng=6, shared=True)
    restored.load_state_dict(state)
    assert [restored.select(e) for e in (0, 1) * 10] == [shared.select(e) for e in (0, 1) * 10]
    per_env = MetaController(num_envs=2, num_arms=3, window=8, epsilon=0.5, rng=0)
    with pytest.raises(CheckpointError, match="bandit_shared=true"):
        per_env.load_state_dict(state)
    with pytest.raises(CheckpointError, match="bandit_shared=false"):
        restored.load_state_dict(per_env.state_dict())


def test_meta_controller_bad_env_index():
    mc = MetaController(num_envs=2, num_arms=3, rng=0)
    with pytest.raises(ParameterError):
        mc.select(2)
    with pytest.raises(ParameterError):
        mc.update(-1, 0, 1.0)
    with pytest.raises(ParameterError):
        MetaController(num_envs=0, num_arms=3, rng=0)


# --------------------------------------------------------------------------- evaluator


def test_evaluator_defaults_are_the_paper_values():
    ev = EvaluatorMetaController(num_arms=32, rng=0)
    assert ev.bandit.window == 3600 and ev.bandit.epsilon == 0.01 and ev.bandit.beta == 1.0
    assert ev.mode == "bandit"


def test_evaluator_greedy_mode_really_runs_and_picks_best_mean_arm():
    """DRLearner's evaluator never ran its greedy mode; here every other episode is greedy."""
    ev = EvaluatorMetaController(num_arms=4, epsilon=0.0, rng=0)
    returns = [1.0, 2.0, 5.0, 0.0]
    modes, arms = [], []
    for _ in range(12):
        arm, mode = ev.select()
        modes.append(mode)
        arms.append(arm)
        ev.update(arm, returns[arm], mode)
    assert modes == ["bandit", "greedy"] * 6
    # Bandit episodes play the round robin 0, 1, 2, 3, then UCB (arm 2: 5 + 1 beats 2 + 1).
    assert arms[0::2] == [0, 1, 2, 3, 2, 2]
    # Greedy episodes use the best mean seen so far: after arm 0 only -> 0, after 0 and 1 -> 1,
    # and once arm 2 has been played (its return 5 is the best) -> 2.
    assert arms[1::2] == [0, 1, 2, 2, 2, 2]
    assert ev.last_greedy_return == 5.0


def test_evaluator_greedy_episodes_do_not_feed_the_bandit():
    ev = EvaluatorMetaController(num_arms=3, rng=0)
    ev.update(*ev.select()[:1], 1.0, "bandit")  # bandit episode (arm 0)
    assert ev.mode == "greedy"
    assert ev.select() == (0, "greedy")
    ev.update(0, 100.0, "greedy")  # greedy episode: recorded, but not in the bandit window
    np.testing.assert_array_equal(ev.bandit.counts(), [1, 0, 0])
    np.testing.assert_allclose(ev.bandit.means(), [1.0, 0.0, 0.0])
    assert ev.last_greedy_return == 100.0 and ev.mode == "bandit"


def test_evaluator_alternates_by_episode_start_with_concurrent_episodes():
    """Two evaluation environments: episodes start A, B, then finish in any order; the modes
    of started episodes still alternate and greedy episodes do run."""
    ev = EvaluatorMetaController(num_arms=2, epsilon=0.0, rng=0)
    started = [ev.select(), ev.select()]
    assert [mode for _, mode in started] == ["bandit", "greedy"]
    for arm, mode in reversed(started):
        ev.update(arm, 1.0, mode)
    assert ev.greedy_episodes == 1 and ev.bandit.num_selected == 1


def test_evaluator_state_round_trip():
    returns = [0.5, 2.0, 1.0]

    def run(ev: EvaluatorMetaController, episodes: int) -> list[tuple[str, int]]:
        out = []
        for _ in range(episodes):
            arm, mode = ev.select()
            ev.update(arm, returns[arm], mode)
            out.append((mode, arm))
        return out

    original = EvaluatorMetaController(num_arms=3, window=10, epsilon=0.5, rng=3)
    run(original, 7)  # odd: the next episode is greedy, which must survive the round trip
    state = pickle.loads(pickle.dumps(original.state_dict()))
    expected = run(original, 40)
    restored = EvaluatorMetaController(num_arms=3, window=10, epsilon=0.5, rng=4)
    restored.load_state_dict(state)
    assert restored.mode == "greedy"
    assert run(restored, 40) == expected


def test_evaluator_rejects_bad_state_and_updates():
    ev = EvaluatorMetaController(num_arms=3, rng=0)
    state = ev.state_dict()
    state["mode"] = "explore"
    with pytest.raises(CheckpointError):
        ev.load_state_dict(state)
    with pytest.raises(ParameterError):
        ev.update(0, math.nan, "greedy")
    with pytest.raises(ParameterError):
        ev.update(5, 1.0, "greedy")
    with pytest.raises(ParameterError):
        ev.update(0, 1.0, "explore")
