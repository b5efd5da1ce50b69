"""Atari out of the box: the papers' preprocessing, checked against gymnasium's own wrapper."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agentos.envs.atari import AtariEnvironment, AtariParams
from agentos.envs.gym_env import GymEnvironment, GymParams
from agentos.runtime.roles import BuildContext

CTX = BuildContext(name="environment", seed=0, agent_dir=Path("."))


def _reference(game: str) -> gym.Env:
    """The papers' preprocessing written out with gymnasium's wrapper, independently."""
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make(
        f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0,
        max_num_frames_per_episode=108_000,
    )  # fmt: skip
    return gym.wrappers.AtariPreprocessing(
        env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True,
        grayscale_newaxis=True, scale_obs=False,
    )  # fmt: skip


def test_pong_matches_gymnasiums_preprocessing_on_the_same_seed():
    env = AtariEnvironment(AtariParams(game="Pong", num_envs=1), CTX)
    reference = _reference("Pong")
    assert env.observation_space == reference.observation_space
    assert env.observation_space.shape == (84, 84, 1) and env.observation_space.dtype == np.uint8
    obs = env.reset(seed=11)
    ref_obs, _ = reference.reset(seed=11)
    np.testing.assert_array_equal(obs[0], ref_obs)
    rng = np.random.default_rng(0)
    for _ in range(150):
        action = int(rng.integers(env.action_space.n))
        step = env.step(np.array([action]))
        ref_obs, ref_reward, term, trunc, _ = reference.step(action)
        np.testing.assert_array_equal(step.final_observation[0], ref_obs)
        assert step.reward[0] == ref_reward and step.terminated[0] == term
    assert len(np.unique(obs)) > 2  # a real frame, not a blank one
    env.close()
    reference.close()


def test_an_ale_id_gets_the_same_preprocessing_and_the_chain_is_recorded():
    env = GymEnvironment(GymParams(env_id="ALE/Breakout-v5", num_envs=2), CTX)
    assert env.observation_space.shape == (84, 84, 1)
    assert env.wrapper_chain()[0].startswith("AtariPreprocessing(noop_max=30, frame_skip=4")
    assert env.reset(seed=0).dtype == np.uint8
    env.close()


def test_max_episode_steps_counts_the_agents_steps_not_emulator_frames():
    params = GymParams(env_id="ALE/Pong-v5", num_envs=1, max_episode_steps=50)
    env = GymEnvironment(params, CTX)
    assert env.wrapper_chain()[1] == "TimeLimit(max_episode_steps=50)"
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        step = env.step(np.array([0]))
        if step.terminated[0] or step.truncated[0]:
            break
    assert steps == 50 and step.truncated[0]  # 200 frames with the frame skip of 4
    env.close()


def test_preprocessing_none_leaves_the_raw_frames():
    params = GymParams(env_id="ALE/Pong-v5", preprocessing="none")
    obs_space, _ = GymEnvironment.spaces(params)
    assert obs_space.shape == (210, 160, 3)


def test_async_copies_step_the_same_games_as_sync_copies():
    def rollout(mode):
        env = AtariEnvironment(AtariParams(game="Pong", num_envs=2, vectorization=mode), CTX)
        frames = [env.reset(seed=3)]
        for t in range(40):
            frames.append(env.step(np.array([t % 6, (t + 1) % 6])).observation)
        env.close()
        return np.stack(frames)

    np.testing.assert_array_equal(rollout("sync"), rollout("async"))


def test_r2d2_on_pong_stores_uint8_frames_and_uses_the_conv_torso(agent_dir):
    import agentos
    from agentos.components.install import install
    from agentos.runtime.loop import training_step

    install(agent_dir, ["r2d2", "gym:ALE/Pong-v5"], [])
    small = [
        "network.lstm_size=8", "network.head_hidden=0", "replay.capacity=50",
        "actor.burn_in=2", "actor.trace_length=8", "actor.period=4", "environment.num_envs=2",
    ]  # fmt: skip
    built = agentos.load_agent(agent_dir, small).graph.build(seed=0)
    assert built.one("network").module.conv_torso
    env, actor, replay = built.one("environment"), built.one("actor"), built.one("replay")
    obs, extras = env.reset(seed=0), actor.initial_extras(env.num_envs)
    while len(replay) < 4:
        step, extras = training_step(env, actor, obs, extras, 0)
        obs = step.observation
    stored = replay.sample(2).items["observation"]
    assert stored.dtype == np.uint8 and stored.shape[-3:] == (84, 84, 1)
    assert replay.state_dict()["contents"]["observation"].dtype == np.uint8
    built.close()


def test_game_names_are_checked_and_spelled_as_ale_does():
    import pytest

    from agentos.errors import ParameterError

    assert AtariParams(game="breakout").gym_id() == "ALE/Breakout-v5"
    assert AtariParams(game="MontezumaRevenge").game == "MontezumaRevenge"
    with pytest.raises(ParameterError, match="did you mean Pong"):
        AtariParams(game="Pongg")
    assert AtariParams(env_id="ALE/Pong-v5", game="ignored").gym_id() == "ALE/Pong-v5"
