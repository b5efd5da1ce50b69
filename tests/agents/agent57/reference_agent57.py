"""A reference Agent57, written top to bottom from the papers, as the parity reference for the
componentized agent in ``agentos.agents.agent57``. One algorithm in three short files: this one
(config, mixtures, networks), ``reference_agent57_actor.py`` (acting, bandits, novelty,
sequences and ``run``) and ``reference_agent57_learner.py`` (losses, update, priorities).

Badia et al. (2020a), "Never Give Up: Learning Directed Exploration Strategies" (NGU),
https://arxiv.org/abs/2002.06038 ; Badia et al. (2020b), "Agent57: Outperforming the Atari
Human Benchmark", https://arxiv.org/abs/2003.13350 . CleanRL style: plain functions and small
classes, one config. It imports nothing from agentos except the value-rescaling pair ``h`` /
``h^{-1}`` (pure math, tested on its own in ``tests/agents/r2d2/test_losses.py``).

What the papers fix and the reference derives on its own:

* per actor (one per environment copy; one for all copies with ``bandit_shared``) a
  sliding-window UCB bandit over the N arms
  (beta_j, gamma_j) picks the arm of each episode (Agent57 section 4, App. E: the first N
  episodes play arm 0 .. N-1, then with probability eps a uniform arm, else
  argmax mu(a) + beta sqrt(1 / N(a)) over the last tau episodes, arms absent from the window
  first); its reward is the episode's undiscounted extrinsic return;
* the betas (NGU App. A: 0, beta sigmoid(10 (2j - (N-2)) / (N-2)), beta) and the discounts
  (NGU App. A: log-interpolated from gamma_max at arm 0 down to gamma_min);
* epsilon-greedy (Ape-X ladder over the copies) on ``h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))``;
* the intrinsic reward of reaching x_{t+1}: ``r_episodic(f(x_{t+1})) * min(max(alpha, 1), L)``
  with NGU Alg. 1 over this episode's memory, which holds f(x_0) .. f(x_t) (NGU section 2:
  the memory holds every controllable state of the episode, x_0 included), and alpha the RND
  error normalised by its running mean and std (NGU section 2), RND's input whitened with
  running observation statistics and clipped to [-5, 5] (Burda et al. 2018, section 2.4).

Conventions shared with agentos (choices, not derived from the components' code):

* alignment (DESIGN.md): ``r_t`` (extrinsic and intrinsic) belongs to ``x_{t-1}, a_{t-1} -> x_t``;
* network: both Q-networks are the R2D2 one (MLP -> LSTM -> dueling head, parameter names
  ``torso_dense_<i>``, ``lstm/{ii,...,ho}``, ``value_hidden``, ``advantage_hidden``,
  ``value``, ``advantage``), stacked on a leading axis of 2 (0: extrinsic, 1: intrinsic). The
  LSTM input is ``[torso(x_t), one_hot(a_{t-1}), 0, one_hot(j), r^e_t, r^i_t]``: the rewards
  go in raw (NGU App. F), the constant 0 is the R2D2 network's (unused) squashed-reward slot.
  The embedding f is an MLP with a ReLU output and the inverse-dynamics head one hidden layer
  of 128 (NGU App. A); RND target and predictor are MLPs. Keys: ``split(init, 3)`` for (Q,
  embedding, RND), then ``split`` again inside each, so parameters compare leaf by leaf;
* episodic memory: a ring buffer of ``episodic_capacity`` embeddings per copy; the running
  mean d_m^2 of the k-NN squared distances is per copy, kept across episodes, updated before
  the kernel with a count capped at ``episodic_mean_horizon`` (a moving average); a zero mean
  counts every distance as 0;
* RND error statistics: an exponentially weighted mean and variance whose past weight decays
  by ``1 - 1/rnd_error_horizon`` per new error, updated with each step's N errors before
  alpha is computed; ``alpha = clip(1 + (err - mu) / (sigma + 1e-8), 1, L)`` in float32;
* draws: each step N uniforms then N random actions from the "explore" Generator; bandit i
  draws from ``default_rng(meta_seed).spawn(N)[i]``.

Planted errors (keep the defaults for the real reference): ``Config.memory_holds_x0=False``
leaves f(x_0) out of the episodic memory; ``Config.planted_arm0_gamma`` gives arm 0 another
discount (DRLearner gave the exploitative arm the smallest one).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# The only agentos import: value rescaling h(x) = sign(x)(sqrt(|x|+1)-1) + eps x and its inverse.
from agentos.agents.r2d2.losses import signed_hyperbolic as h
from agentos.agents.r2d2.losses import signed_parabolic as h_inv

# ============================================================================ 1. config


@dataclass(frozen=True)
class Config:
    """Everything the reference needs (values are the test's)."""

    num_envs: int = 2
    epsilon_base: float = 0.4
    epsilon_alpha: float = 8.0
    hidden_sizes: tuple[int, ...] = (16,)
    lstm_size: int = 8
    head_hidden: int = 8
    num_arms: int = 4
    beta_max: float = 0.3
    gamma_max: float = 0.9999
    gamma_min: float = 0.99
    embedding_hidden: tuple[int, ...] = (16,)
    embedding_dim: int = 8
    idm_hidden: int = 128
    rnd_hidden: tuple[int, ...] = (16,)
    rnd_output: int = 8
    max_modulation: float = 5.0
    """L: alpha is clipped to [1, L]."""
    burn_in: int = 2
    trace_length: int = 6
    period: int = 3
    episodic_capacity: int = 30_000
    episodic_mean_horizon: float | None = 100_000.0
    rnd_error_horizon: float | None = 10_000.0
    num_neighbours: int = 10
    kernel_epsilon: float = 1e-4
    cluster_distance: float = 0.008
    pseudo_count: float = 0.001
    max_similarity: float = 8.0
    bandit_window: int = 160
    bandit_epsilon: float = 0.5
    bandit_beta: float = 1.0
    bandit_shared: bool = False  # one bandit fed by every copy's episodes (bundle: on)
    retrace_lambda: float = 0.95
    traces: str = "retrace"  # or "peng": Peng's Q(lambda), traces never cut by mu;
    # "peng_extrinsic": Peng's for the extrinsic head, Retrace for the intrinsic one
    exploit_every: int = 0  # every k-th sequence of a batch is trained as arm 0 (0: none)
    non_episodic_intrinsic: bool = False  # RND's non-episodic intrinsic return (bundle: on)
    intrinsic_discount: float | None = None  # caps the intrinsic head's gamma (RND: 0.99)
    extrinsic_time_limits: str = "bootstrap"  # "end": no extrinsic bootstrap at a time limit
    intrinsic_reward_input: str = "both_heads"  # "intrinsic_head": head 0 gets r_i = 0
    learning_rate: float = 1e-4
    adam_eps: float = 1e-3
    max_grad_norm: float = 40.0
    novelty_learning_rate: float = 5e-4
    target_update_period: int = 1500
    priority_eta: float = 0.9
    priority_exponent: float = 0.9
    importance_sampling_exponent: float = 0.6
    batch_size: int = 8
    samples_per_insert: float = 1.0
    min_replay_size: int = 100
    learn_every: int = 1
    memory_holds_x0: bool = True
    """PLANTED ERROR when False: f(x_0) is not stored, so x_1 is scored against nothing."""
    planted_arm0_gamma: float | None = None
    """PLANTED ERROR when set: the discount of arm 0 (the exploitative arm)."""
    burn_in_padding_skipped: bool = True
    """PLANTED ERROR when False: an episode's first sequence burns in over its padding instead
    of starting from x_0's state."""

    @property
    def sequence_length(self) -> int:
        return self.burn_in + self.trace_length


FIELDS = ("observation", "action", "reward", "discount", "prev_action", "prev_reward", "mask")
"""The per-step arrays of a stored sequence, besides mu, the arm and the start states."""


def mixture(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """(betas, gammas) float32 [N]: NGU App. A. Arm 0 is exploitative: beta 0, largest gamma."""
    n = cfg.num_arms
    if n >= 10:
        raise NotImplementedError("the reference has the NGU ladder only (fewer than 10 arms)")
    betas = np.zeros(n)
    for j in range(1, n):
        if j == n - 1:
            betas[j] = cfg.beta_max
        else:
            betas[j] = cfg.beta_max / (1.0 + np.exp(-10.0 * (2 * j - (n - 2)) / (n - 2)))
    gammas = np.array([cfg.gamma_max] * n)
    for j in range(1, n):  # 1 - gamma linear in log space between the two ends
        log_gap = ((n - 1 - j) * np.log(1 - cfg.gamma_max) + j * np.log(1 - cfg.gamma_min)) / (
            n - 1
        )
        gammas[j] = cfg.gamma_min if j == n - 1 else 1.0 - np.exp(log_gap)
    if cfg.planted_arm0_gamma is not None:
        gammas[0] = cfg.planted_arm0_gamma
    return betas.astype(np.float32), gammas.astype(np.float32)


# ============================================================================ 2. networks


class LSTMCell(nn.Module):
    """i, f, o = sigmoid(W_i. x + W_h. h + b), g = tanh(...), c' = f c + i g, h' = o tanh c'."""

    features: int

    @nn.compact
    def __call__(self, state, x):
        h_prev, c_prev = state

        def gate(name: str) -> jax.Array:
            from_x = nn.Dense(self.features, use_bias=False, name=f"i{name}")(x)
            from_h = nn.Dense(
                self.features, kernel_init=nn.initializers.orthogonal(), name=f"h{name}"
            )(h_prev)
            return from_x + from_h

        i, f = jax.nn.sigmoid(gate("i")), jax.nn.sigmoid(gate("f"))
        g, o = jnp.tanh(gate("g")), jax.nn.sigmoid(gate("o"))
        c = f * c_prev + i * g
        return o * jnp.tanh(c), c


class QNet(nn.Module):
    """One head's Q(x_t, a_{t-1}, r_t, j, (h, c)) -> (Q [B, A], (h', c'))."""

    num_actions: int
    num_arms: int
    hidden_sizes: tuple[int, ...]
    lstm_size: int
    head_hidden: int

    @nn.compact
    def __call__(self, obs, prev_action, prev_reward, arm, state):
        x = obs.reshape((obs.shape[0], -1)).astype(jnp.float32)
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(nn.Dense(width, name=f"torso_dense_{i}")(x))
        x = jnp.concatenate(
            [
                x,
                jax.nn.one_hot(prev_action, self.num_actions, dtype=jnp.float32),
                jnp.zeros((x.shape[0], 1), jnp.float32),
                jax.nn.one_hot(arm, self.num_arms, dtype=jnp.float32),
                prev_reward.astype(jnp.float32),
            ],
            axis=-1,
        )
        h_new, c_new = LSTMCell(self.lstm_size, name="lstm")(state, x)
        v, a = h_new, h_new
        if self.head_hidden > 0:
            v = nn.relu(nn.Dense(self.head_hidden, name="value_hidden")(h_new))
            a = nn.relu(nn.Dense(self.head_hidden, name="advantage_hidden")(h_new))
        value = nn.Dense(1, name="value")(v)
        advantage = nn.Dense(self.num_actions, name="advantage")(a)
        return value + advantage - advantage.mean(axis=-1, keepdims=True), (h_new, c_new)


class MLP(nn.Module):
    """ReLU MLP on flattened float observations; ``relu_out`` for NGU's embedding f."""

    features: tuple[int, ...]
    out: int
    relu_out: bool = False

    @nn.compact
    def __call__(self, x):
        x = x.reshape((x.shape[0], -1)).astype(jnp.float32)
        for width in self.features:
            x = nn.relu(nn.Dense(width)(x))
        x = nn.Dense(self.out)(x)
        return nn.relu(x) if self.relu_out else x


class InverseDynamics(nn.Module):
    """logits of p(a_t | f(x_t), f(x_{t+1})) (NGU App. A: one ReLU layer, then linear)."""

    num_actions: int
    hidden: int

    @nn.compact
    def __call__(self, e_t, e_tp1):
        x = nn.relu(nn.Dense(self.hidden)(jnp.concatenate([e_t, e_tp1], axis=-1)))
        return nn.Dense(self.num_actions)(x)


@dataclass(frozen=True)
class Nets:
    q: QNet
    embedding: MLP
    idm: InverseDynamics
    rnd: MLP


def make_nets(cfg: Config, num_actions: int) -> Nets:
    return Nets(
        q=QNet(num_actions, cfg.num_arms, cfg.hidden_sizes, cfg.lstm_size, cfg.head_hidden),
        embedding=MLP(cfg.embedding_hidden, cfg.embedding_dim, relu_out=True),
        idm=InverseDynamics(num_actions, cfg.idm_hidden),
        rnd=MLP(cfg.rnd_hidden, cfg.rnd_output),
    )


def init_variables(cfg: Config, nets: Nets, obs_dim: int, seed: int) -> dict:
    """{"q": [2]-stacked, "embedding": {"embedding", "idm"}, "rnd": {"predictor", "target"},
    "rnd_obs": whitening statistics (none seen: mean 0, var 1)}."""
    q_key, emb_key, rnd_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    obs = jnp.zeros((1, obs_dim), jnp.float32)
    zeros = jnp.zeros((1, cfg.lstm_size), jnp.float32)
    a0, r0 = jnp.zeros((1,), jnp.int32), jnp.zeros((1, 2), jnp.float32)

    def q_init(key):
        return nets.q.init(key, obs, a0, r0, a0, (zeros, zeros))

    @jax.jit
    def embedding_init(key):
        f_key, idm_key = jax.random.split(key)
        e = jnp.zeros((1, cfg.embedding_dim), jnp.float32)
        return {"embedding": nets.embedding.init(f_key, obs), "idm": nets.idm.init(idm_key, e, e)}

    predictor_key, target_key = jax.random.split(rnd_key)
    return {
        "q": jax.vmap(q_init)(jax.random.split(q_key, 2)),
        "embedding": embedding_init(emb_key),
        "rnd": {
            "predictor": nets.rnd.init(predictor_key, obs),
            "target": nets.rnd.init(target_key, obs),
        },
        "rnd_obs": {
            "mean": jnp.zeros((obs_dim,), jnp.float32),
            "var": jnp.ones((obs_dim,), jnp.float32),
            "count": jnp.zeros((), jnp.float32),
        },
    }


def head(q_params, i: int):
    """Parameters of head i (0 extrinsic, 1 intrinsic) of the stacked Q-networks."""
    return jax.tree_util.tree_map(lambda x: x[i], q_params)


def head_rewards(cfg: Config, prev_reward, i: int):
    """The previous [r_e, r_i] that head i sees: with ``intrinsic_head`` the extrinsic head
    (0) gets r_i = 0."""
    if i == 0 and cfg.intrinsic_reward_input == "intrinsic_head":
        return prev_reward * jnp.asarray([1.0, 0.0], jnp.float32)
    return prev_reward


def whiten(x, stats):
    """RND's input: clip((x - mu) / (sigma + 1e-8), -5, 5) (Burda et al. 2018, 2.4)."""
    return jnp.clip((x - stats["mean"]) / (jnp.sqrt(stats["var"]) + 1e-8), -5.0, 5.0)


def rnd_errors(nets: Nets, variables, obs):
    """err(x) = ||g_hat(x) - g(x)||^2 per row, on whitened input (NGU section 2)."""
    z = whiten(obs.astype(jnp.float32), variables["rnd_obs"])
    predicted = nets.rnd.apply(variables["rnd"]["predictor"], z)
    target = nets.rnd.apply(variables["rnd"]["target"], z)
    return jnp.sum((predicted - target) ** 2, axis=-1)


def compile_key(cfg: Config) -> Config:
    """The config without its planted errors (which act outside the jitted functions), so
    planted runs reuse the compiled ones."""
    return dataclasses.replace(cfg, memory_holds_x0=True, planted_arm0_gamma=None)


def jitted_acting(cfg: Config, nets: Nets):
    """(act, novelty): the combined values of each copy's arm with the new LSTM states, and
    (f(x), err(x)) of a batch of observations."""
    return _jitted_acting(compile_key(cfg), nets)


@functools.lru_cache(maxsize=8)
def _jitted_acting(cfg: Config, nets: Nets):
    betas, _ = mixture(cfg)

    @jax.jit
    def act(q_params, obs, prev_action, prev_reward, arm, h_state, c_state):
        qs, hs, cs = [], [], []
        for i in range(2):
            state = (h_state[:, i], c_state[:, i])
            rewards = head_rewards(cfg, prev_reward, i)
            q, (h_new, c_new) = nets.q.apply(head(q_params, i), obs, prev_action, rewards, arm,
                                             state)  # fmt: skip
            qs.append(q)
            hs.append(h_new)
            cs.append(c_new)
        beta = jnp.asarray(betas)[arm][:, None]
        combined = h(h_inv(qs[0]) + beta * h_inv(qs[1]))
        return combined, jnp.stack(hs, axis=1), jnp.stack(cs, axis=1)

    @jax.jit
    def novelty(variables, obs):
        f = nets.embedding.apply(variables["embedding"]["embedding"], obs.astype(jnp.float32))
        return f, rnd_errors(nets, variables, obs)

    return act, novelty
