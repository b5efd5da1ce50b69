"""The Agent57 actor: arms per episode from the meta-controller, intrinsic rewards stored with
the R2D2 alignment, the evaluator's greedy mode, and the learner consuming its sequences."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from agentos.agents.agent57.actor import ARM, Agent57Actor
from agentos.agents.agent57.learner import Agent57Learner
from agentos.agents.agent57.network import Agent57Network
from agentos.agents.r2d2.adder import MASK, PREV_REWARD, REWARD
from agentos.envs.permuted_chain import PermutedChain, PermutedChainParams
from agentos.replay.prioritized import PrioritizedSequenceReplay
from agentos.runtime.loop import Loop, LoopParams, _reset_extras
from agentos.runtime.roles import BuildContext, EnvStep, Transition

LENGTH = 5


class RecordingReplay:
    """Keeps every sequence the adder emits."""

    def __init__(self):
        self.sequences = []

    def add_items(self, items, priorities=None):
        n = len(items["action"])
        self.sequences += [{k: v[i] for k, v in items.items()} for i in range(n)]

    def __len__(self):
        return len(self.sequences)


def build(num_envs=2, seed=0, replay=None, network_params=None, **actor_params):
    env_params = PermutedChainParams(length=LENGTH, max_steps=8, num_envs=num_envs)
    obs_space, act_space = PermutedChain.spaces(env_params)

    def ctx(name):
        return BuildContext(
            name=name,
            seed=seed,
            agent_dir=Path("."),
            observation_space=obs_space,
            action_space=act_space,
            num_envs=num_envs,
        )

    env = PermutedChain(env_params, BuildContext("environment", seed, Path("."), num_envs=num_envs))
    net = Agent57Network(
        Agent57Network.Params(
            hidden_sizes=(8,),
            lstm_size=4,
            head_hidden=0,
            num_arms=3,
            embedding_hidden=(8,),
            embedding_dim=4,
            rnd_hidden=(8,),
            rnd_output=4,
            **(network_params or {}),
        ),
        ctx("network"),
    )
    replay = replay if replay is not None else RecordingReplay()
    params = {"burn_in": 1, "trace_length": 4, "period": 2, "bandit_window": 10, **actor_params}
    actor = Agent57Actor(Agent57Actor.Params(**params), ctx("actor"), network=net, replay=replay)
    return env, net, actor, replay, ctx


def run_steps(env, actor, steps):
    """The loop's acting part; returns per-step records of what the environment gave."""
    obs = env.reset(seed=0)
    extras = actor.initial_extras(env.num_envs)
    log = []
    for _ in range(steps):
        action, new_extras = actor.select_action(obs, extras, explore=True, env_steps=0)
        step = env.step(action)
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
        log.append((new_extras[ARM].copy(), step.reward.copy(), actor._last_intrinsic.copy()))
        done = step.terminated | step.truncated
        extras = _reset_extras(actor, actor.after_step(new_extras, step), done)
        obs = step.observation
    return log


def test_sequences_hold_extrinsic_and_intrinsic_rewards_aligned_with_r2d2():
    env, _, actor, replay, _ = build(num_envs=1)
    log = run_steps(env, actor, 40)
    assert replay.sequences, "no sequence was emitted"
    # Rebuild env 0's stream of (arm, r_e, r_i) and find each sequence in it: reward[t + 1]
    # must be the rewards of the step taken at t, and prev_reward[t] == reward[t].
    stream = np.array([(r[0], ri[0]) for _, r, ri in log], np.float32)
    for seq in replay.sequences:
        valid = seq[MASK] > 0
        np.testing.assert_array_equal(seq[PREV_REWARD], seq[REWARD])
        assert seq[REWARD].shape[-1] == 2  # [r_e, r_i] per step
        first = int(np.argmax(valid))  # after the padding of an episode's first sequence
        rewards = seq[REWARD][first + 1 : first + int(valid.sum()) + 1]
        matches = [
            s
            for s in range(len(stream) - len(rewards) + 1)
            if np.allclose(stream[s : s + len(rewards)], rewards)
        ]
        assert matches, "a stored sequence's rewards are not a window of the env's rewards"
        arms = seq[ARM][: first + int(valid.sum())]  # the padding carries x_0's arm
        assert np.all(arms == arms[first])  # one arm per episode


def test_intrinsic_reward_is_episodic_times_alpha_by_hand(monkeypatch):
    # r_i = r_episodic * min(max(alpha, 1), L), with L = 1.5 here (NGU: 5) so that both clips
    # show within one short episode. f(x) and err(x) are scripted, one entry per call of the
    # novelty networks: x_0 when the episode starts (stored in the memory, NGU: it holds
    # f(x_0 .. x_t)), then x_1 .. x_4.
    env, _, actor, _, _ = build(
        num_envs=1, rnd_error_horizon=None, network_params={"max_modulation": 1.5}
    )
    script = iter(
        [
            ([0, 0, 0, 0], 9.0),
            ([1, 0, 0, 0], 1.0),
            ([0, 0, 0, 0], 3.0),
            ([0, 2, 0, 0], 2.0),
            ([0, 0, 0, 0], 2.4),
        ]
    )

    def novelty_inputs(variables, observation):
        embedding, error = next(script)
        return np.asarray([embedding], np.float32), np.asarray([error], np.float32)

    monkeypatch.setattr(actor.network, "novelty_inputs", novelty_inputs)
    log = run_steps(env, actor, 4)
    intrinsic = [float(ri[0]) for _, _, ri in log]
    assert actor.memory.sizes.tolist() == [5]  # f(x_0) .. f(x_4), one episode
    # NGU Alg. 1, k = 10, eps 1e-4, xi 0.008, c 0.001; alpha = 1 + (err - mu) / sigma over the
    # errors so far (this step's included), then clipped to [1, L = 1.5].
    # x_1: d^2 = [1] to f(x_0); d_m^2 = 1; K = 1e-4 / (0.992 + 1e-4);
    #   r = 1 / (sqrt(K) + 0.001) = 90.58188; errors [1]: sigma 0 -> alpha 1.
    #   Without f(x_0) in the memory this would be 0 (the bug of issue 11).
    # x_2 = x_0: d^2 = [0, 1]; d_m^2 = 2/3; K = [1, 1e-4 / (1.492 + 1e-4)];
    #   r = 1 / (sqrt(1.000067) + 0.001) = 0.998968; errors [1, 3]: mu 2, sigma 1,
    #   alpha = 1 + 1/1 = 2 -> min(2, L) = 1.5: r_i = 1.498451.
    # x_3: d^2 = [4, 4, 5]; d_m^2 = 15/6 = 2.5; K = 1e-4 / ([1.592, 1.592, 1.992] + 1e-4);
    #   r = 70.12791; errors [1, 3, 2]: alpha = 1 + 0 = 1.
    # x_4 = x_0: d^2 = [0, 0, 1, 4]; d_m^2 = (15 + 5) / 10 = 2; K = [1, 1, 1e-4 / (0.492 +
    #   1e-4), 1e-4 / (1.992 + 1e-4)] = [1, 1, 2.032107e-4, 5.019828e-5]; r = 1 / (sqrt(
    #   2.000253) + 0.001) = 0.7065624; errors [1, 3, 2, 2.4]: mu 2.1, sigma 0.7280110,
    #   alpha = 1 + 0.3 / 0.7280110 = 1.4120817 (inside [1, L]): r_i = 0.9977238.
    np.testing.assert_allclose(
        intrinsic, [90.58188, 1.5 * 0.9989676, 70.12791, 0.7065624 * 1.4120817], rtol=2e-5
    )
    info = actor.step_info()
    np.testing.assert_allclose(info["episodic_reward"], [0.7065624], rtol=2e-5)
    np.testing.assert_allclose(info["rnd_alpha"], [1.4120817], rtol=2e-5)


def test_arms_come_from_each_environments_bandit_and_change_between_episodes():
    env, _, actor, _, _ = build(num_envs=2)
    log = run_steps(env, actor, 80)
    arms_env0 = [a[0] for a, _, _ in log]
    # The first episodes of a bandit play arms 0, 1, 2 in order (sliding-window UCB).
    pairs = zip(arms_env0[:-1], arms_env0[1:], strict=True)
    firsts = [arms_env0[0]] + [b for a, b in pairs if a != b]
    assert firsts[:3] == [0, 1, 2]
    assert actor.meta.bandits[0].num_selected >= 3


def test_evaluation_alternates_bandit_and_greedy_arm_modes():
    env, _, actor, _, _ = build(num_envs=2)
    loop = Loop(
        environment=env,
        actor=actor,
        learner=None,
        params=LoopParams(eval_episodes=4),
        make_eval_env=lambda: PermutedChain(
            PermutedChainParams(length=LENGTH, max_steps=8, num_envs=2),
            BuildContext("environment", 0, Path("."), num_envs=2),
        ),
        seed=0,
    )
    modes = []
    select = actor.evaluator.select

    def recording_select():
        arm, mode = select()
        modes.append(mode)
        return arm, mode

    actor.evaluator.select = recording_select
    assert actor.evaluator.last_greedy_return is None
    loop.evaluate(4, track=False)
    # DRLearner's evaluator never ran its greedy mode; here it alternates with the bandit.
    assert actor.evaluator.last_greedy_return is not None
    assert modes[:4] == ["bandit", "greedy", "bandit", "greedy"]
    assert actor.evaluator.greedy_episodes >= 2


def one_evaluation_step(env, actor) -> np.ndarray:
    """Start an evaluation episode in both copies and end both at once with returns 1 and 0;
    returns the arms they played."""
    obs = env.reset(seed=0)
    _, extras = actor.select_action(obs, actor.initial_extras(2), explore=False, env_steps=0)
    done = np.array([True, True])
    actor.after_step(extras, EnvStep(obs, np.array([1.0, 0.0], np.float32), done, ~done, obs))
    return np.asarray(extras[ARM])


def test_evaluation_metrics_split_the_returns_by_mode():
    env, _, actor, _, _ = build(num_envs=2)
    # Two episodes start together: env 0 in bandit mode, env 1 in greedy mode (select
    # alternates from "bandit"); both end at once with returns 1 and 0.
    arms = one_evaluation_step(env, actor)
    assert actor.pop_eval_stats() == {
        "bandit_return_mean": 1.0,
        "bandit_episodes": 1.0,
        "greedy_return_mean": 0.0,
        "greedy_episodes": 1.0,
        "greedy_arm": float(arms[1]),
    }
    assert actor.pop_eval_stats() == {}  # popped: the next evaluation starts afresh


def test_evaluation_arm_plays_one_arm_and_leaves_the_evaluator_alone():
    env, _, actor, _, _ = build(num_envs=2, evaluation_arm=0)
    assert list(one_evaluation_step(env, actor)) == [0, 0]
    assert actor.pop_eval_stats() == {"fixed_return_mean": 0.5, "fixed_episodes": 2.0}
    untouched = actor.evaluator.state_dict()["bandit"]
    assert untouched["num_selected"] == 0 and len(untouched["arms"]) == 0


def test_evaluation_chooser_training_plays_the_training_bandits_best_arm():
    env, _, actor, _, _ = build(num_envs=2, evaluation_chooser="training")
    for arm, episode_return in [(0, 0.0), (1, 0.2), (2, 0.9), (2, 0.7)]:
        actor.meta.update(0, arm, episode_return)  # env 0's window: arm 2 has the best mean
    assert list(one_evaluation_step(env, actor)) == [2, 2]
    assert actor.pop_eval_stats() == {
        "training_return_mean": 0.5,
        "training_episodes": 2.0,
        "training_arm": 2.0,
    }
    untouched = actor.evaluator.state_dict()["bandit"]
    assert untouched["num_selected"] == 0 and len(untouched["arms"]) == 0


def test_evaluation_chooser_training_falls_back_to_the_evaluator_without_training_data():
    # A Ray evaluator process, or the first evaluation before any training episode ended.
    env, _, actor, _, _ = build(num_envs=2, evaluation_chooser="training")
    one_evaluation_step(env, actor)
    stats = actor.pop_eval_stats()
    assert stats["bandit_episodes"] == 1.0 and stats["greedy_episodes"] == 1.0
    assert "training_episodes" not in stats


def test_evaluation_chooser_must_be_known():
    from agentos.errors import ParameterError

    with pytest.raises(ParameterError, match="evaluation_chooser must be"):
        build(evaluation_chooser="best")


@pytest.mark.parametrize("arm, message", [(3, "not an arm: the network has 3"), (-1, ">= 0")])
def test_evaluation_arm_outside_the_arms_is_refused(arm, message):
    from agentos.errors import ParameterError

    with pytest.raises(ParameterError, match=message):
        build(evaluation_arm=arm)


def test_learner_updates_both_networks_from_actor_sequences():
    replay_ctx = BuildContext("replay", 0, Path("."), num_envs=2)
    replay = PrioritizedSequenceReplay(PrioritizedSequenceReplay.Params(capacity=100), replay_ctx)
    env, net, actor, _, ctx = build(num_envs=2, replay=replay)
    run_steps(env, actor, 60)
    learner = Agent57Learner(
        Agent57Learner.Params(burn_in=1, trace_length=4, batch_size=4, target_update_period=2),
        ctx("learner"),
        network=net,
        replay=replay,
    )
    before = jax.tree_util.tree_map(np.asarray, learner.get_variables())
    metrics = learner.step(3)
    after = learner.get_variables()
    for key in ("loss_extrinsic", "loss_intrinsic", "idm_loss", "rnd_loss", "priority_mean"):
        assert np.isfinite(metrics[key]), key
    for part in ("q", "embedding"):
        changed = jax.tree_util.tree_map(
            lambda a, b: not np.allclose(a, b), before[part], after[part]
        )
        assert any(jax.tree_util.tree_leaves(changed)), part
    # The RND target stays fixed; its predictor learns.
    same = jax.tree_util.tree_map(np.allclose, before["rnd"]["target"], after["rnd"]["target"])
    assert all(jax.tree_util.tree_leaves(same))
    # RND's input statistics took the sampled steps with an action (at most 3 x 4 x 5).
    count = float(after["rnd_obs"]["count"])
    assert 0 < count <= 60 and count == int(count)
    assert float(before["rnd_obs"]["count"]) == 0.0
    # Each Q-network has its own Adam state (stacked on the leading axis).
    mu = jax.tree_util.tree_leaves(learner.state.opt_state["q"])
    assert all(np.shape(leaf)[0] == 2 for leaf in mu if np.ndim(leaf) > 0)


@pytest.mark.parametrize("beta_max", [0.0, 0.3])
def test_betas_and_gammas_of_the_network(beta_max):
    # 3 arms (NGU App. A): beta = [0, beta_max * sigmoid(10 (2 - 1) / 1), beta_max], the
    # exploitative arm 0 with the largest discount.
    _, net, _, _, _ = build(network_params={"beta_max": beta_max})
    sigmoid_10 = 1.0 / (1.0 + np.exp(-10.0))
    np.testing.assert_allclose(net.betas, [0.0, beta_max * sigmoid_10, beta_max], rtol=1e-6)
    assert net.gammas[0] == net.gammas.max() > net.gammas[-1]
