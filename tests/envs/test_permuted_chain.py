"""The permuted chain: layout, dynamics, time limit, auto-reset and how rarely random actions
find the goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from agentos.envs.permuted_chain import (
    PermutedChain,
    PermutedChainParams,
    chain_layout,
    random_policy_success_probability,
)
from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext


def _ctx(seed: int = 0) -> BuildContext:
    return BuildContext(name="environment", seed=seed, agent_dir=Path("."))


def _make(**kw) -> PermutedChain:
    return PermutedChain(PermutedChainParams(**kw), _ctx())


def _conformance_mixin() -> type:
    """The shared EnvironmentConformance mixin, loaded by path (tests/envs is no package)."""
    spec = importlib.util.spec_from_file_location(
        "_env_conformance", Path(__file__).with_name("test_conformance.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EnvironmentConformance


class TestPermutedChainConformance(_conformance_mixin()):
    def make(self, seed):
        return PermutedChain(PermutedChainParams(length=5, num_envs=3), _ctx(seed))


def test_spaces():
    obs_space, act_space = PermutedChain.spaces(PermutedChainParams())
    assert obs_space.shape == (20,) and obs_space.dtype == np.float32
    assert act_space.n == 2
    env = _make(length=7)
    assert env.observation_space.shape == (7,) and env.action_space.n == 2
    assert env.max_steps == 14  # max_steps=0 means 2 * length = 2 * 7


def test_observation_is_one_hot_of_the_cell():
    env = _make(length=6, num_envs=2)
    obs = env.reset()
    assert obs.dtype == np.float32 and obs.shape == (2, 6)
    np.testing.assert_array_equal(obs, np.eye(6, dtype=np.float32)[[0, 0]])
    right = env.right_action
    # copy 0 moves right from cell 0 (to cell 1), copy 1 hits the wall (stays in cell 0)
    step = env.step(np.array([right[0], 1 - right[0]]))
    np.testing.assert_array_equal(step.observation, np.eye(6, dtype=np.float32)[[1, 0]])


def test_optimal_actions_reach_goal_in_length_minus_one_steps():
    length = 20
    env = _make(length=length)
    env.reset()
    total, steps = 0.0, 0
    for cell in range(length - 1):
        step = env.step(np.array([env.right_action[cell]]))
        total += float(step.reward[0])
        steps += 1
        assert not step.truncated[0]
        if cell < length - 2:
            assert not step.terminated[0] and step.reward[0] == 0.0
            assert step.observation[0, cell + 1] == 1.0
    assert steps == 19 and total == 1.0 and step.terminated[0]
    assert step.final_observation[0, length - 1] == 1.0  # the goal, before the reset
    assert step.observation[0, 0] == 1.0  # auto-reset to cell 0


def test_layout_is_not_a_constant_action():
    # with a constant action the default chain would be solved without exploring
    layout = chain_layout(20, 0)
    assert set(layout[:-1].tolist()) == {0, 1}
    env = _make()
    for action in (0, 1):
        env.reset()
        for _ in range(env.max_steps):
            step = env.step(np.array([action]))
            assert not step.terminated[0]


def test_wrong_action_at_cell_zero_stays_at_zero():
    env = _make(length=5)
    env.reset()
    wrong = 1 - env.right_action[0]
    for _ in range(3):
        step = env.step(np.array([wrong]))
        assert step.observation[0, 0] == 1.0 and step.reward[0] == 0.0


def test_left_moves_back_one_cell():
    env = _make(length=5)
    env.reset()
    r = env.right_action
    env.step(np.array([r[0]]))
    env.step(np.array([r[1]]))  # now in cell 2
    step = env.step(np.array([1 - r[2]]))
    assert step.observation[0].argmax() == 1


def test_truncation_at_max_steps_with_final_observation():
    env = _make(length=5, max_steps=6)
    env.reset()
    r = env.right_action
    # right, right, then left/right alternating between cells 2 and 1: never the goal (cell 4)
    cells = []
    for t in range(6):
        cell = int(env._cell[0])
        action = r[cell] if t < 2 or cell == 1 else 1 - r[cell]
        step = env.step(np.array([action]))
        cells.append(int(step.final_observation[0].argmax()))
        assert step.truncated[0] == (t == 5) and not step.terminated[0]
    assert cells == [1, 2, 1, 2, 1, 2]
    assert step.final_observation[0, 2] == 1.0 and step.observation[0, 0] == 1.0
    # the counter restarted: 5 more wrong steps at the wall do not truncate
    for _ in range(5):
        assert not env.step(np.array([1 - r[0]])).truncated[0]
    assert env.step(np.array([1 - r[0]])).truncated[0]


def test_auto_reset_after_goal_starts_a_fresh_episode():
    env = _make(length=3, max_steps=4)
    env.reset()
    r = env.right_action
    env.step(np.array([r[0]]))
    assert env.step(np.array([r[1]])).terminated[0]
    # fresh episode: cell 0 and a full time budget of 4 steps
    for t in range(4):
        step = env.step(np.array([1 - r[0]]))
        assert step.observation[0, 0] == 1.0 and step.truncated[0] == (t == 3)


def test_layout_depends_on_layout_seed_only():
    a = PermutedChain(PermutedChainParams(layout_seed=3), _ctx(seed=1))
    b = PermutedChain(PermutedChainParams(layout_seed=3), _ctx(seed=99))
    c = PermutedChain(PermutedChainParams(layout_seed=4), _ctx(seed=1))
    np.testing.assert_array_equal(a.right_action, b.right_action)
    assert not np.array_equal(a.right_action, c.right_action)
    a.reset(seed=5)  # the reset seed does not change the layout either
    np.testing.assert_array_equal(a.right_action, b.right_action)


def test_vectorised_copies_are_independent():
    env = _make(length=4, max_steps=3, num_envs=4)
    env.reset()
    r = env.right_action
    w = 1 - r[0]  # the wrong action at cell 0: stays at the wall
    # copy 0 walks to the goal (cell 3), copy 1 goes right then back, copies 2 and 3 stay
    plan = [[r[0], r[0], w, w], [r[1], 1 - r[1], w, w], [r[2], w, w, w]]
    cells_after = [[1, 1, 0, 0], [2, 0, 0, 0], [3, 0, 0, 0]]
    for t in range(3):
        step = env.step(np.array(plan[t]))
        assert step.final_observation.argmax(axis=1).tolist() == cells_after[t]
    assert step.terminated.tolist() == [True, False, False, False]
    assert step.truncated.tolist() == [False, True, True, True]
    assert step.reward.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_state_dict_round_trip():
    env = _make(length=5, num_envs=2)
    env.reset()
    env.step(np.array([env.right_action[0], 1 - env.right_action[0]]))
    state = env.state_dict()
    other = _make(length=5, num_envs=2)
    other.load_state_dict(state)
    actions = np.array([0, 1])
    np.testing.assert_array_equal(env.step(actions).observation, other.step(actions).observation)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"length": 1}, "length must be >= 2"),
        ({"length": 5, "max_steps": 3}, "shorter than the shortest path"),
        ({"max_steps": -1}, "max_steps must be >= 0"),
        ({"num_envs": 0}, "num_envs must be >= 1"),
    ],
)
def test_bad_params_are_parameter_errors(kw, match):
    with pytest.raises(ParameterError, match=match):
        PermutedChain.spaces(PermutedChainParams(**kw))
    with pytest.raises(ParameterError, match=match):
        _make(**kw)


def test_max_steps_equal_to_shortest_path_is_allowed():
    env = _make(length=5, max_steps=4)
    env.reset()
    for cell in range(4):
        step = env.step(np.array([env.right_action[cell]]))
    assert step.terminated[0] and not step.truncated[0]


def test_success_probability_hand_cases():
    # length 3, 2 steps: only right-right reaches cell 2: 1/2 * 1/2 = 0.25
    assert random_policy_success_probability(3, 2) == 0.25
    # length 2, 1 step: right = 1/2; 2 steps: 1/2 + (wall, right) 1/4 = 0.75
    assert random_policy_success_probability(2, 1) == 0.5
    assert random_policy_success_probability(2, 2) == 0.75
    # length 3, 4 steps: RR (1/4), WRR (1/8), RLRR and WWRR (2/16) -> 4/16 + 2/16 + 2/16 = 0.5
    assert random_policy_success_probability(3, 4) == 0.5
    assert random_policy_success_probability(3, 1) == 0.0
    # the default size, exactly 4,037,324,000 of the 2**40 action sequences
    assert random_policy_success_probability(20, 40) == 4_037_324_000 / 2**40


def _first_episode_successes(env: PermutedChain, actions: np.ndarray) -> np.ndarray:
    """[N] bool: whether each copy's first episode terminated, given [T, N] actions."""
    env.reset()
    success = np.zeros(env.num_envs, bool)
    finished = np.zeros(env.num_envs, bool)
    for action in actions:
        step = env.step(action)
        success |= ~finished & step.terminated
        finished |= step.terminated | step.truncated
    assert finished.all()
    return success


def test_success_probability_matches_every_action_sequence():
    # all 2**8 action sequences of length 8 on a length-4 chain, one per copy: the share that
    # reaches the goal is exactly the DP's probability (the layout does not matter)
    length, max_steps = 4, 8
    codes = np.arange(2**max_steps)
    actions = (codes[None, :] >> np.arange(max_steps)[:, None]) & 1  # [T, N] bits
    for layout_seed in (0, 1):
        env = _make(length=length, max_steps=max_steps, layout_seed=layout_seed, num_envs=2**8)
        share = _first_episode_successes(env, actions).mean()
        assert share == random_policy_success_probability(length, max_steps)


def test_success_probability_matches_simulation():
    length, max_steps, n = 6, 12, 20_000
    p = random_policy_success_probability(length, max_steps)
    env = _make(length=length, max_steps=max_steps, num_envs=n)
    actions = np.random.default_rng(0).integers(2, size=(max_steps, n))
    share = _first_episode_successes(env, actions).mean()
    assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n), (share, p)


def test_random_policy_rarely_reaches_the_goal_at_default_size():
    env = _make(num_envs=2000)
    actions = np.random.default_rng(1).integers(2, size=(env.max_steps, 2000))
    successes = int(_first_episode_successes(env, actions).sum())
    assert successes < 20, successes  # fewer than 1% of 2,000 episodes
    assert random_policy_success_probability(20, 40) < 0.01


def test_install_and_run_from_the_cli(cli, agent_dir):
    code, out, err = cli("install", "random", "permuted_chain", "--agent", agent_dir)
    assert code == 0, err
    assert "installed permuted_chain -> environment" in out
    code, out, err = cli("run", "--episodes", "2", "--agent", agent_dir)
    assert code == 0, err
    assert "over 2 episodes" in out
