"""Every environment adapter passes the same conformance checks (dm_env's mixin idea)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.runtime.roles import BuildContext


class EnvironmentConformance:
    """Subclass and set ``make(seed)`` to check an Environment component."""

    def make(self, seed: int):
        raise NotImplementedError

    def test_reset_matches_observation_space(self):
        env = self.make(0)
        obs = env.reset(seed=1)
        assert obs.shape == (env.num_envs, *env.observation_space.shape)
        for o in obs:
            assert env.observation_space.contains(o.astype(env.observation_space.dtype))
        env.close()

    def test_step_shapes_and_final_observation(self):
        env = self.make(0)
        obs = env.reset(seed=1)
        rng = np.random.default_rng(0)
        saw_done = False
        for _ in range(600):
            action = np.array([env.action_space.sample() for _ in range(env.num_envs)])
            if hasattr(env.action_space, "n"):
                action = rng.integers(env.action_space.n, size=env.num_envs)
            step = env.step(action)
            n = env.num_envs
            assert step.reward.shape == (n,) and step.reward.dtype == np.float32
            assert step.terminated.shape == (n,) and step.terminated.dtype == bool
            assert step.truncated.shape == (n,) and step.truncated.dtype == bool
            assert step.observation.shape == obs.shape
            assert step.final_observation.shape == obs.shape
            done = step.terminated | step.truncated
            np.testing.assert_array_equal(step.final_observation[~done], step.observation[~done])
            saw_done |= bool(done.any())
            obs = step.observation
        assert saw_done, "no episode ended in 600 random steps"
        env.close()

    def test_same_seed_same_trajectory(self):
        def rollout():
            env = self.make(0)
            obs = [env.reset(seed=7)]
            for t in range(50):
                action = np.full(env.num_envs, t % 2) if hasattr(env.action_space, "n") else None
                obs.append(env.step(action).observation)
            env.close()
            return np.stack(obs)

        np.testing.assert_array_equal(rollout(), rollout())

    def test_restored_state_continues_the_episodes(self, tmp_path):
        from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint

        def act(t):
            return np.array([(t * 7 + i) % env.action_space.n for i in range(env.num_envs)])

        env = self.make(0)
        env.reset(seed=5)
        for t in range(120):  # long enough for some copies to finish an episode on the way
            env.step(act(t))
        path = save_checkpoint(tmp_path / "env.msgpack", env.state_dict())
        restored = self.make(1)
        restored.load_state_dict(load_checkpoint(path))
        if not restored.continues_episodes():
            assert not env.state_dict(), "an environment with state must restore it"
            return
        for t in range(120, 180):
            a, b = env.step(act(t)), restored.step(act(t))
            np.testing.assert_array_equal(a.observation, b.observation)
            np.testing.assert_array_equal(a.reward, b.reward)
            np.testing.assert_array_equal(a.terminated | a.truncated, b.terminated | b.truncated)
        env.close()
        restored.close()


def test_replay_that_misses_the_saved_observation_restarts_episodes(caplog):
    from agentos.envs.gym_env import GymEnvironment, GymParams

    env = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=2), _ctx(0))
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.array([0, 1]))
    state = env.state_dict()
    assert [len(c["actions"]) for c in state["copies"]] == [5, 5]
    state["copies"][1]["observation"] = state["copies"][1]["observation"] + 1.0
    restored = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=2), _ctx(0))
    restored.load_state_dict(state)
    assert not restored.continues_episodes()
    assert "did not reproduce the saved observation" in caplog.text
    other = GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=3), _ctx(0))
    other.load_state_dict(env.state_dict())  # another number of copies: episodes restart
    assert not other.continues_episodes()


def _ctx(seed: int) -> BuildContext:
    return BuildContext(name="environment", seed=seed, agent_dir=Path("."))


class TestCorridor(EnvironmentConformance):
    def make(self, seed):
        from agentos.envs.corridor import Corridor, CorridorParams

        return Corridor(CorridorParams(length=4, max_steps=20, num_envs=3), _ctx(seed))


class TestCartPole(EnvironmentConformance):
    def make(self, seed):
        from agentos.envs.gym_env import GymEnvironment, GymParams

        return GymEnvironment(GymParams(env_id="CartPole-v1", num_envs=3), _ctx(seed))


class TestLunarLander(EnvironmentConformance):
    def make(self, seed):
        from agentos.envs.gym_env import GymEnvironment, GymParams

        return GymEnvironment(GymParams(env_id="LunarLander-v3", num_envs=2), _ctx(seed))


class TestStatelessCartPole(EnvironmentConformance):
    def make(self, seed):
        from agentos.envs.gym_env import GymEnvironment, GymParams

        params = GymParams(env_id="CartPole-v1", num_envs=2, observation_indices=(0, 2))
        return GymEnvironment(params, _ctx(seed))

    def test_velocities_hidden(self):
        env = self.make(0)
        assert env.reset(seed=0).shape == (2, 2)
        assert env.observation_space.shape == (2,)


def test_unknown_gym_id_is_a_clear_error():
    from agentos.envs.gym_env import GymEnvironment, GymParams
    from agentos.errors import AgentOSError

    with pytest.raises(AgentOSError, match="unknown gymnasium environment id 'CartPol-v1'"):
        GymEnvironment.spaces(GymParams(env_id="CartPol-v1"))


def test_corridor_reaches_goal_and_truncates():
    from agentos.envs.corridor import Corridor, CorridorParams

    env = Corridor(CorridorParams(length=2, max_steps=3, num_envs=2), _ctx(0))
    env.reset()
    env.step(np.array([1, 0]))
    step = env.step(np.array([1, 0]))
    assert step.terminated.tolist() == [True, False]
    assert step.reward.tolist() == [0.0, -1.0]
    assert step.final_observation[0, 0] == 1.0 and step.observation[0, 0] == 0.0
    step = env.step(np.array([1, 0]))
    assert step.truncated.tolist() == [False, True]
