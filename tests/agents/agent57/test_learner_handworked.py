"""Hand-worked checks of the Agent57 learner and meta-controller, through the components:
burn-in (warms the LSTM states, no loss, no gradient), the actor's arm choice by the
sliding-window UCB on a hand-made history, importance weights with the bundle's exponents,
and priorities eta max|delta| + (1 - eta) mean|delta| written back by ``Agent57Learner.step``.

The pure pieces have their own hand tests (``test_meta_controller.py``: UCB scores;
``tests/replay/test_prioritized.py``: weights with alpha = beta = 0.5 and ``sequence_priority``;
``test_learner_targets.py``: split Retrace targets, ``split_abs_td``); here the numbers go
through the learner's update, the actor and the replay built as the agent57 bundle builds them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from agentos.agents.agent57.learner import Agent57Learner, UpdateConfig, q_loss
from agentos.agents.agent57.network import Agent57Network
from agentos.agents.agent57.rnd_inputs import initial_observation_stats
from agentos.components.registry import load_registries
from agentos.replay.prioritized import PrioritizedSequenceReplay
from agentos.runtime.roles import BuildContext
from agentos.runtime.stepping import training_step

from .test_actor import build

OBS_SPACE = gymnasium.spaces.Box(-1.0, 1.0, (1,), np.float32)
ACT_SPACE = gymnasium.spaces.Discrete(2)


def context(name: str) -> BuildContext:
    return BuildContext(
        name=name,
        seed=0,
        agent_dir=Path("."),
        observation_space=OBS_SPACE,
        action_space=ACT_SPACE,
        num_envs=1,
    )


def network(**params) -> Agent57Network:
    base = {"hidden_sizes": (2,), "lstm_size": 1, "head_hidden": 0}
    return Agent57Network(Agent57Network.Params(**{**base, **params}), context("network"))


def variables_where(net: Agent57Network, value_kernel: float) -> dict:
    """The network's variables with every parameter 0 but the value heads' kernels (RND's
    input statistics as initialised). Both Q-networks then give Q(x, a) = value_kernel * h_t
    for every action (advantages 0), h_t = sigmoid(0) tanh(c_t) = tanh(c_t) / 2 with gates
    i = f = o = sigmoid(0) = 1/2 and g = tanh(0) = 0, so c_t = c_{t-1} / 2."""

    def leaf(path, x):
        names = [getattr(p, "key", "") for p in path]
        return jnp.full(x.shape, value_kernel if names[-2:] == ["value", "kernel"] else 0.0)

    shapes = jax.eval_shape(net.init, jax.random.PRNGKey(0))  # no initialisation to compute
    variables = jax.tree_util.tree_map_with_path(leaf, shapes)
    return {**variables, "rnd_obs": initial_observation_stats(OBS_SPACE.shape)}


def sequences(batch: int, length: int, **fields) -> dict[str, np.ndarray]:
    """``batch`` sequences of ``length`` steps with one observation feature: real actions
    (mask 1), action 0 taken with mu = 1, no episode end; ``fields`` override."""
    out = {
        "observation": np.zeros((batch, length, 1), np.float32),
        "action": np.zeros((batch, length), np.int32),
        "reward": np.zeros((batch, length, 2), np.float32),
        "discount": np.ones((batch, length), np.float32),
        "prev_action": np.zeros((batch, length), np.int32),
        "prev_reward": np.zeros((batch, length, 2), np.float32),
        "mask": np.ones((batch, length), np.float32),
        "mu": np.ones((batch, length), np.float32),
        "arm": np.zeros((batch, length), np.float32),
        "lstm_h": np.zeros((batch, 2, 1), np.float32),
        "lstm_c": np.zeros((batch, 2, 1), np.float32),
    }
    out.update({k: np.asarray(v, out[k].dtype) for k, v in fields.items()})
    return out


class OneBatchReplay:
    """Hands out one fixed batch and records the priorities written back."""

    def __init__(self, items, weights):
        self.items, self.weights, self.written = items, np.asarray(weights, np.float32), None

    def __len__(self):
        return len(self.items["action"])

    def sample(self, batch_size=None):
        keys = np.arange(len(self))
        return SimpleNamespace(keys=keys, items=self.items, weights=self.weights)

    def update_priorities(self, keys, priorities):
        self.written = (np.asarray(keys), np.asarray(priorities))


def test_burn_in_rewards_get_no_loss_and_priorities_by_hand():
    # Q = 0 everywhere (value kernel 0): greedy action 0 = the action taken, mu = 1, so
    # c = lambda min(1, 1/1) = 0.5; V = Q = h^{-1}(0) = 0. Two arms, beta = [0, 0.5],
    # gamma = 0.5 for both. Sequences of 5 steps, burn-in 2: the trace is steps 2, 3, 4 and
    # has targets for steps 2, 3 (Retrace, the last step only bootstraps). Rewards [r_e, r_i]
    # of 100 at steps 0..2 (step 2's reward arrived with x_2, inside the burn-in's
    # transitions) must carry no loss:
    #   G(step 3) = r_4 = (2, 0); G(step 2) = r_3 + gamma c G(step 3) = (1 + 0.25 * 2, 3) = (1.5, 3)
    #   y = h(G) = sqrt(G + 1) - 1 + 0.001 G: h(1.5) = 0.5826388, h(2) = 0.7340508, h(3) = 1.003
    #   per sequence 0.5 mean_t delta^2: extrinsic 0.25 (0.5826388^2 + 0.7340508^2) = 0.2195746,
    #   intrinsic 0.25 * 1.003^2 = 0.2515023 (both sequences hold the same rewards)
    #   weights [1, 0.5]: loss_e = 0.75 * 0.2195746 = 0.1646810, loss_i = 0.75 * 0.2515023
    #   = 0.1886267, loss = 0.3533077
    # Priorities, eta 0.9, of |delta_e + beta delta_i| over the 2 trace targets:
    #   arm 0 (beta 0): 0.9 * 0.7340508 + 0.1 * (0.5826388 + 0.7340508) / 2 = 0.7264802
    #   arm 1 (beta 0.5): [0.5826388 + 0.5015, 0.7340508] -> 0.9 * 1.0841388 + 0.1 * 0.9090948
    #   = 1.0666344
    net = network(num_arms=2, beta_max=0.5, gamma_max=0.5, gamma_mid=0.5, gamma_min=0.5)
    reward = np.zeros((2, 5, 2))
    reward[:, :3] = 100.0
    reward[:, 3] = [1.0, 3.0]
    reward[:, 4] = [2.0, 0.0]
    arm = np.array([[0.0] * 5, [1.0] * 5])
    replay = OneBatchReplay(sequences(2, 5, reward=reward, arm=arm), weights=[1.0, 0.5])
    params = Agent57Learner.Params(burn_in=2, trace_length=3, retrace_lambda=0.5, batch_size=2)
    assert params.priority_eta == 0.9
    variables = variables_where(net, 0.0)
    net.initial_params = lambda: variables  # the learner starts from these
    learner = Agent57Learner(params, context("learner"), network=net, replay=replay)
    metrics = learner.step(1)
    np.testing.assert_allclose(metrics["loss_extrinsic"], 0.1646810, rtol=1e-5)
    np.testing.assert_allclose(metrics["loss_intrinsic"], 0.1886267, rtol=1e-5)
    np.testing.assert_allclose(metrics["loss"], 0.3533077, rtol=1e-5)
    keys, priorities = replay.written
    assert keys.tolist() == [0, 1]
    np.testing.assert_allclose(priorities, [0.7264802, 1.0666344], rtol=1e-5)


def test_burn_in_only_warms_the_lstm_state_without_gradient():
    # Q = 2 h_t = tanh(c_t) with c_t = c_{t-1} / 2 (see q_params_where), no value rescaling.
    # Stored state c = 1 at step 0; burn-in of 2 steps: c = 1/2, 1/4; the trace (steps 2, 3, 4)
    # then has c = 1/8, 1/16, 1/32 and the Q of its two steps with a target are
    # tanh(0.125) = 0.1243530 and tanh(0.0625) = 0.0624187: mean 0.0933859. (Without the
    # burn-in, from c = 1: tanh(0.5), tanh(0.25) -> mean 0.353518; from a zero state: 0.)
    net = network(num_arms=1, value_rescaling=False)
    q = variables_where(net, 2.0)["q"]
    reward = np.zeros((1, 5, 2))
    reward[0, :, 0] = [7.0, 7.0, 0.0, 1.0, 2.0]
    burned = sequences(1, 5, reward=reward, lstm_c=[[[1.0], [1.0]]], lstm_h=[[[0.3], [0.3]]])
    # The same trace as a sequence of its own, stored with the state after the burn-in by
    # hand: c = 1/4, h = o tanh(c) = tanh(1/4) / 2 = 0.1224594 (the stored h = 0.3 is only
    # read by the first burn-in step, through recurrent kernels that are 0).
    trace = {k: v[:, 2:] for k, v in burned.items() if not k.startswith("lstm")}
    trace["lstm_c"] = np.full((1, 2, 1), 0.25, np.float32)
    trace["lstm_h"] = np.full((1, 2, 1), 0.5 * np.tanh(0.25), np.float32)
    config = UpdateConfig(
        burn_in=2,
        num_arms=1,
        value_rescaling=False,
        retrace_lambda=0.95,
        priority_eta=0.9,
        target_update_period=1,
        learning_rate=1e-3,
        adam_eps=1e-3,
        max_grad_norm=40.0,
        novelty_learning_rate=1e-3,
    )
    grad_fn = jax.jit(jax.value_and_grad(q_loss, has_aux=True), static_argnums=(6, 7))
    weights, betas, gammas = jnp.ones(1), jnp.asarray(net.betas), jnp.asarray(net.gammas)
    (loss_b, aux_b), grads_b = grad_fn(q, q, burned, weights, betas, gammas, net, config)
    config_0 = dataclasses.replace(config, burn_in=0)
    (loss_0, aux_0), grads_0 = grad_fn(q, q, trace, weights, betas, gammas, net, config_0)
    np.testing.assert_allclose(aux_b["q_extrinsic_mean"], 0.0933859, rtol=1e-5)
    np.testing.assert_allclose(aux_b["q_intrinsic_mean"], 0.0933859, rtol=1e-5)
    # No loss and no gradient from the burn-in: the same loss, priorities and gradients (the
    # LSTM gate biases included: through the burn-in they would get more) as the bare trace.
    np.testing.assert_allclose(loss_b, loss_0, rtol=1e-6)
    np.testing.assert_allclose(aux_b["priorities"], aux_0["priorities"], rtol=1e-6)
    assert float(loss_b) > 0.0
    leaves_0 = jax.tree_util.tree_leaves(grads_0)
    for (path, gb), g0 in zip(jax.tree_util.tree_leaves_with_path(grads_b), leaves_0, strict=True):
        where = jax.tree_util.keystr(path)
        np.testing.assert_allclose(gb, g0, rtol=1e-6, atol=1e-9, err_msg=where)
    bias_grads = grads_b["params"]["lstm"]["hg"]["bias"]
    assert np.any(np.abs(bias_grads) > 1e-4)  # the trace itself does train the LSTM


def test_actor_picks_the_sliding_window_ucb_arm_of_a_hand_made_history(monkeypatch):
    # Agent57 App. E: after the round robin (arms 0, 1, 2) the arm is
    #   argmax_a mu(a, tau) + beta sqrt(1 / N(a, tau)),  beta = 1, no random arm (eps 0),
    # over the last tau = 4 episodes. History (arm, return): (1, -10), (0, 1), (1, 3),
    # (2, 2.5), (1, 3); the window keeps the last 4: N = [1, 2, 1], mu = [1, 3, 2.5]:
    #   scores 1 + 1 = 2, 3 + sqrt(1/2) = 3.7071, 2.5 + 1 = 3.5 -> arm 1.
    # (All five episodes would give arm 1 mean -4/3 + sqrt(1/3) = -0.756, and pick arm 2.)
    # (Zero variables: the arms do not depend on them, and they cost nothing to make.)
    monkeypatch.setattr(Agent57Network, "initial_params", lambda net: variables_where(net, 0.0))
    env, _, actor, _, _ = build(num_envs=2, bandit_window=4, bandit_epsilon=0.0)
    bandit = actor.meta.bandits[0]
    for _ in range(3):
        bandit.select()
    for arm, episode_return in [(1, -10.0), (0, 1.0), (1, 3.0), (2, 2.5), (1, 3.0)]:
        bandit.update(arm, episode_return)
    np.testing.assert_allclose(bandit.ucb_scores(), [2.0, 3.7071068, 3.5], rtol=1e-6)
    obs, extras = env.reset(seed=0), actor.initial_extras(2)
    step, extras = training_step(env, actor, obs, extras, 0)
    # Environment 1's bandit is fresh: the first arm of its round robin.
    assert actor.step_info()["arm"].tolist() == [1, 0]
    episode_return = float(step.reward[0])
    while not (step.terminated[0] or step.truncated[0]):
        step, extras = training_step(env, actor, step.observation, extras, 0)
        assert actor.step_info()["arm"][0] == 1  # one arm per episode
        episode_return += float(step.reward[0])
    # The bandit got the episode's undiscounted extrinsic return; the window is now
    # (1, 3), (2, 2.5), (1, 3), (1, R): arm 0 has left it, so its bonus is infinite.
    assert bandit.state_dict()["arms"].tolist() == [1, 2, 1, 1]
    assert bandit.state_dict()["rewards"][-1] == pytest.approx(episode_return)
    training_step(env, actor, step.observation, extras, 0)
    assert actor.step_info()["arm"][0] == 0


def test_importance_weights_with_the_bundle_exponents():
    # The agent57 bundle's replay: alpha = 0.9, beta = 0.6. Priorities [1, 2, 4]:
    #   p^alpha = [1, 1.8660660, 3.4822022], sum 6.3482682, P = [0.1575233, 0.2939488, 0.5485279]
    #   N P = [0.4725698, 0.8818465, 1.6455837]; (N P)^-0.6 = [1.5679074, 1.0783611, 0.7416654]
    # each divided by the largest in the batch (1.5679074 when item 0 is in it).
    registry = load_registries([], Path("."))
    assert "sequence_replay" in registry.get("agent57").components
    exponents = registry.get("sequence_replay").params
    alpha, beta = exponents["priority_exponent"], exponents["importance_sampling_exponent"]
    assert (alpha, beta) == (0.9, 0.6)
    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(
            capacity=3, priority_exponent=alpha, importance_sampling_exponent=beta
        ),
        BuildContext(name="replay", seed=0, agent_dir=Path(".")),
    )
    replay.add_items(sequences(3, 4), priorities=np.array([1.0, 2.0, 4.0]))
    by_hand = np.array([1.5679074, 1.0783611, 0.7416654])
    seen = set()
    for _ in range(5):
        batch = replay.sample(6)
        seen.update(batch.keys.tolist())
        expected = by_hand[batch.keys] / by_hand[batch.keys].max()
        np.testing.assert_allclose(batch.weights, expected, rtol=1e-6)
    assert seen == {0, 1, 2}


def test_a_batch_larger_than_the_replay_is_refused():
    from agentos.errors import ParameterError

    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(capacity=8), BuildContext("replay", 0, Path("."))
    )
    params = Agent57Learner.Params(burn_in=2, trace_length=3, batch_size=16)
    with pytest.raises(ParameterError, match=r"batch_size=16 is more than replay.capacity=8"):
        Agent57Learner(params, context("learner"), network=network(), replay=replay)
