"""A single-file R2D2, written top to bottom from the paper, as the parity reference for the
componentized agent in ``agentos.agents.r2d2``.

Kapturowski et al. (2019), "Recurrent Experience Replay in Distributed Reinforcement
Learning", https://openreview.net/forum?id=r1lyTjAqYX . CleanRL style: plain functions, one
config, one ``run`` that acts, cuts sequences, keeps priorities and learns. It imports nothing
from agentos except the value-rescaling pair ``h`` / ``h^{-1}`` (pure math, tested on its own
in ``tests/agents/r2d2/test_losses.py``) so that a parity failure points at wiring (slicing,
reward alignment, burn-in, recurrent state, priorities, importance weights), not at algebra.

Conventions shared with agentos (they are choices, not derived from the components' code):

* alignment (DESIGN.md): ``r_t`` and ``gamma_t`` belong to ``(x_{t-1}, a_{t-1}) -> x_t``; the
  target of ``Q(x_t, a_t)`` starts with ``r_{t+1}``;
* network: MLP torso -> LSTM on ``[torso(x_t), one_hot(a_{t-1}), tanh(r_t)]`` -> dueling head,
  parameter names ``torso_dense_<i>``, ``lstm/{ii,if,ig,io}`` (input kernels, no bias),
  ``lstm/{hi,hf,hg,ho}`` (recurrent kernels with the gate biases), ``value_hidden``,
  ``advantage_hidden``, ``value``, ``advantage``, so parameters compare leaf by leaf;
* exploration: environment ``i`` of ``N`` uses ``eps_i = base^(1 + alpha i / (N - 1))``
  (Ape-X); each step draws ``N`` uniforms, then ``N`` random actions, from one numpy Generator;
* a sequence never spans two episodes; after an episode's last action its final observation is
  stored as one more step (mask 0, discount 0 if terminated, 1 if truncated) and the rest is
  zero padding; sequences with no action after the burn-in are dropped;
* an episode starts with ``burn_in`` padding steps (mask 0, x_0's mu and state), so the first
  sequence's trace starts at x_0; the second starts max(period, burn_in) steps later; a
  sequence whose burn-in is all padding skips the burn-in (the stored state is x_0's);
* loss: per sequence ``0.5 * mean over valid steps of (y - Q)^2``, then the importance-weighted
  mean over the batch; new sequences get the largest priority seen so far (at least 1).

``Config.reward_shift`` plants the DRLearner bug on purpose (``reward_shift=1`` pairs
``Q(x_t, a_t)`` with ``r_{t+2}``); the parity test shows that parity then fails.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

import flax.linen as nn
import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax

# The only agentos import: value rescaling h(x) = sign(x)(sqrt(|x|+1)-1) + eps x and its inverse.
from agentos.agents.r2d2.losses import signed_hyperbolic, signed_parabolic

# ============================================================================ 1. config


@dataclass(frozen=True)
class Config:
    """Everything the reference needs (names follow the paper; values are the test's)."""

    num_envs: int = 2
    """Environments stepped together (one actor with an Ape-X epsilon per environment)."""
    epsilon_base: float = 0.4
    """Ape-X: eps_i = epsilon_base ** (1 + epsilon_alpha * i / (N - 1))."""
    epsilon_alpha: float = 8.0
    """Ape-X exponent range."""
    hidden_sizes: tuple[int, ...] = (128,)
    """MLP torso widths."""
    lstm_size: int = 128
    """LSTM units."""
    head_hidden: int = 128
    """Hidden units of each dueling stream (0: linear streams)."""
    burn_in: int = 40
    """Steps that only refresh the stored LSTM state."""
    trace_length: int = 80
    """Steps after the burn-in that carry the loss."""
    period: int = 40
    """Steps between the starts of consecutive sequences of one episode."""
    n_step: int = 5
    """n of the n-step double-Q targets."""
    discount: float = 0.997
    """gamma."""
    learning_rate: float = 1e-4
    """Adam step size."""
    adam_eps: float = 1e-3
    """Adam epsilon."""
    max_grad_norm: float = 40.0
    """Global-norm gradient clipping before Adam."""
    target_update_period: int = 2500
    """Updates between copies of the online parameters into the target network."""
    priority_eta: float = 0.9
    """Priority = eta max|delta| + (1 - eta) mean|delta|."""
    priority_exponent: float = 0.9
    """alpha: P(i) proportional to p_i ** alpha."""
    importance_sampling_exponent: float = 0.6
    """beta: w_i = (N P(i)) ** -beta / max_j w_j."""
    batch_size: int = 64
    """Sequences per update."""
    samples_per_insert: float = 4.0
    """Replay ratio: after min_replay_size env steps keep
    updates = floor((env_steps - min_replay_size) * samples_per_insert / batch_size)."""
    min_replay_size: int = 1000
    """Env steps before the first update."""
    learn_every: int = 1
    """Env steps between checks for due updates."""
    reward_shift: int = 0
    """PLANTED BUG when > 0: the learner reads rewards ``reward_shift`` steps too late
    (1 = DRLearner's pairing of Q(o[1:-1]) with reward[2:]; see ``plant_reward_shift``).
    Keep 0 for the real reference."""

    @property
    def sequence_length(self) -> int:
        return self.burn_in + self.trace_length


# ============================================================================ 2. network


class LSTMCell(nn.Module):
    """The LSTM of Hochreiter & Schmidhuber (1997), written out gate by gate:
    i = s(W_ii x + W_hi h + b_i), f = s(W_if x + W_hf h + b_f), g = tanh(W_ig x + W_hg h + b_g),
    o = s(W_io x + W_ho h + b_o), c' = f c + i g, h' = o tanh(c')."""

    features: int

    @nn.compact
    def __call__(self, state: tuple[jax.Array, jax.Array], x: jax.Array):
        h, c = state

        def gate(name: str) -> jax.Array:
            from_x = nn.Dense(self.features, use_bias=False, name=f"i{name}")(x)
            from_h = nn.Dense(
                self.features, kernel_init=nn.initializers.orthogonal(), name=f"h{name}"
            )(h)
            return from_x + from_h

        i = jax.nn.sigmoid(gate("i"))
        f = jax.nn.sigmoid(gate("f"))
        g = jnp.tanh(gate("g"))
        o = jax.nn.sigmoid(gate("o"))
        c = f * c + i * g
        h = o * jnp.tanh(c)
        return h, c


class R2D2Net(nn.Module):
    """Q(x_t, a_{t-1}, r_t, (h, c)) -> (Q [B, A], (h', c')): MLP -> LSTM -> dueling head."""

    num_actions: int
    hidden_sizes: tuple[int, ...]
    lstm_size: int
    head_hidden: int

    @nn.compact
    def __call__(self, obs, prev_action, prev_reward, state):
        x = obs.reshape((obs.shape[0], -1)).astype(jnp.float32)
        for i, width in enumerate(self.hidden_sizes):
            x = nn.relu(nn.Dense(width, name=f"torso_dense_{i}")(x))
        x = jnp.concatenate(
            [
                x,
                jax.nn.one_hot(prev_action, self.num_actions, dtype=jnp.float32),
                jnp.tanh(prev_reward.astype(jnp.float32))[:, None],
            ],
            axis=-1,
        )
        h, c = LSTMCell(self.lstm_size, name="lstm")(state, x)
        v, a = h, h
        if self.head_hidden > 0:
            v = nn.relu(nn.Dense(self.head_hidden, name="value_hidden")(h))
            a = nn.relu(nn.Dense(self.head_hidden, name="advantage_hidden")(h))
        value = nn.Dense(1, name="value")(v)
        advantage = nn.Dense(self.num_actions, name="advantage")(a)
        q = value + advantage - advantage.mean(axis=-1, keepdims=True)
        return q, (h, c)


def make_network(cfg: Config, num_actions: int) -> R2D2Net:
    return R2D2Net(num_actions, tuple(cfg.hidden_sizes), cfg.lstm_size, cfg.head_hidden)


def init_params(cfg: Config, obs_dim: int, num_actions: int, seed: int) -> Any:
    """Parameters from ``jax.random.PRNGKey(seed)``."""
    net = make_network(cfg, num_actions)
    zeros = jnp.zeros((1, cfg.lstm_size), jnp.float32)
    return net.init(
        jax.random.PRNGKey(seed),
        jnp.zeros((1, obs_dim), jnp.float32),
        jnp.zeros((1,), jnp.int32),
        jnp.zeros((1,), jnp.float32),
        (zeros, zeros),
    )


# ============================================================================ 3. acting


def apex_epsilons(cfg: Config) -> np.ndarray:
    """eps_i = base^(1 + alpha i / (N - 1)) (Ape-X, Horgan et al. 2018, section 4)."""
    n = cfg.num_envs
    return np.array(
        [cfg.epsilon_base ** (1 + cfg.epsilon_alpha * i / max(n - 1, 1)) for i in range(n)]
    )


def epsilon_greedy(q: np.ndarray, eps: np.ndarray, rng: np.random.Generator):
    """(actions, mu = behaviour probability of each action taken)."""
    n, num_actions = q.shape
    greedy = q.argmax(axis=1)
    u = rng.random(n)
    random_action = rng.integers(0, num_actions, size=n)
    actions = [int(random_action[i]) if u[i] < eps[i] else int(greedy[i]) for i in range(n)]
    mu = [
        (1.0 - eps[i] + eps[i] / num_actions) if actions[i] == greedy[i] else eps[i] / num_actions
        for i in range(n)
    ]
    return np.array(actions), np.array(mu)


# ============================================================================ 4. sequences

FIELDS = ("observation", "action", "reward", "discount", "prev_action", "prev_reward", "mask")


def make_step(obs, action, reward_in, discount, prev_action, mask, mu, state) -> dict:
    """One stored step x_t: r_t / gamma_t arrive with x_t; a_{t-1}, r_t are network inputs."""
    return {
        "observation": np.asarray(obs, np.float32),
        "action": action,
        "reward": reward_in,
        "discount": discount,
        "prev_action": prev_action,
        "prev_reward": reward_in,
        "mask": mask,
        "mu": mu,
        "lstm_h": np.asarray(state[0], np.float32),
        "lstm_c": np.asarray(state[1], np.float32),
    }


def cut(cfg: Config, episode: list[dict], start: int) -> dict:
    """Steps ``start .. start + T - 1`` of an episode, zero padded to T, with the LSTM state
    the actor had before acting at ``start``."""
    steps = episode[start : start + cfg.sequence_length]
    seq = {}
    for key in (*FIELDS, "mu"):
        values = np.array([s[key] for s in steps])
        pad = np.zeros((cfg.sequence_length - len(steps),) + values.shape[1:], values.dtype)
        seq[key] = np.concatenate([values, pad])
    seq["lstm_h"] = episode[start]["lstm_h"]
    seq["lstm_c"] = episode[start]["lstm_c"]
    return seq


def padding(cfg: Config, first: dict) -> list[dict]:
    """The ``burn_in`` steps stored before an episode's first step ``first``."""
    pad = {k: np.zeros_like(v) for k, v in first.items()}
    pad.update(mu=first["mu"], lstm_h=first["lstm_h"], lstm_c=first["lstm_c"])
    return [pad] * cfg.burn_in


def sequence_starts(cfg: Config, length: int) -> list[int]:
    """Where sequences start in a padded episode of ``length`` stored steps: 0, then
    max(period, burn_in), then every ``period`` steps."""
    starts, s = [0], max(cfg.period, cfg.burn_in)
    while s < length:
        starts.append(s)
        s += cfg.period
    return starts


def sequences_completed(cfg: Config, episode: list[dict], ended: bool) -> list[dict]:
    """The sequences of this (padded) episode that become complete with its newest step.

    A sequence whose T steps are all stored before the final observation is complete when its
    last step arrives. When the episode ends (the final observation is the newest step,
    ``ended``), every other sequence is complete, padded, and kept if its trace holds an action.
    """
    T, b = cfg.sequence_length, cfg.burn_in
    starts = sequence_starts(cfg, len(episode))
    if not ended:
        start = len(episode) - T  # the sequence whose last step just arrived
        return [cut(cfg, episode, start)] if start in starts else []
    out = []
    for start in starts:
        already_full = start + T <= len(episode) - 1
        actions_in_trace = sum(s["mask"] for s in episode[start + b : start + T])
        if not already_full and actions_in_trace > 0:
            out.append(cut(cfg, episode, start))
    return out


# ============================================================================ 5. learning


def h(x):
    return signed_hyperbolic(x)


def h_inv(x):
    return signed_parabolic(x)


def q_after_burn_in(net: R2D2Net, params, batch: dict, burn_in: int) -> jax.Array:
    """Refresh the stored state over the burn-in (no gradient), then Q over the trace [B, L, A].

    The LSTM runs through ``jax.lax.scan`` over time-major inputs (one network step per t)."""

    def one_step(state, x_t):
        q, state = net.apply(params, *x_t, state)
        return state, q

    def time_major(key: str, start: int, stop: int | None) -> jax.Array:
        return jnp.swapaxes(batch[key][:, start:stop], 0, 1)

    def inputs(start: int, stop: int | None):
        return tuple(
            time_major(k, start, stop) for k in ("observation", "prev_action", "prev_reward")
        )

    state = (batch["lstm_h"], batch["lstm_c"])  # the actor's state at the sequence's first step
    if burn_in > 0:
        burned, _ = jax.lax.scan(one_step, state, inputs(0, burn_in))
        padded = jnp.all(batch["mask"][:, :burn_in] == 0, axis=1)[:, None]  # an episode start
        state = jax.tree.map(lambda s0, s1: jnp.where(padded, s0, s1), state, burned)
        state = jax.lax.stop_gradient(state)
    _, q = jax.lax.scan(one_step, state, inputs(burn_in, None))
    return jnp.swapaxes(q, 0, 1)


def n_step_double_q_targets(cfg: Config, reward, discount, mask, q_target, q_online):
    """y_t = h( sum_{k<n} gamma^k (prod d) r_{t+k+1} + gamma^n (prod d) h^-1(Q'(x_{t+n}, a*)) ),
    a* = argmax_a Q(x_{t+n}, a), for trace steps t = 0 .. L-n-1. ``reward[t]`` arrived with
    ``x_t``, so the first reward of Q(x_t, a_t) is ``reward[t+1]``. Past the episode's final
    observation (index e) nothing is added and the bootstrap is at x_e, times its discount.
    """
    B, L = reward.shape
    no_action = mask <= 0
    end = jnp.where(no_action.any(axis=1), jnp.argmax(no_action, axis=1), L)  # e, or L
    rows = jnp.arange(B)
    targets = []
    for t in range(L - cfg.n_step):
        ret = jnp.zeros(B)
        disc = jnp.ones(B)
        for k in range(cfg.n_step):
            j = t + k + 1
            in_episode = j <= end
            ret = ret + jnp.where(in_episode, disc * reward[:, j], 0.0)
            disc = jnp.where(in_episode, disc * cfg.discount * discount[:, j], disc)
        boot = jnp.minimum(t + cfg.n_step, end)
        best = jnp.argmax(q_online[rows, boot], axis=-1)
        value = q_target[rows, boot, best]
        targets.append(h(ret + disc * h_inv(value)))
    return jnp.stack(targets, axis=1)


def loss_fn(params, target_params, batch, weights, cfg: Config, net: R2D2Net):
    """Importance-weighted loss; aux: (priorities [B], mean Q of the actions taken)."""
    b = cfg.burn_in
    q_online = q_after_burn_in(net, params, batch, b)  # [B, L, A]
    q_target = jax.lax.stop_gradient(q_after_burn_in(net, target_params, batch, b))
    reward = batch["reward"][:, b:]
    discount = batch["discount"][:, b:]
    mask = batch["mask"][:, b:]
    action = batch["action"][:, b:]
    y = n_step_double_q_targets(
        cfg, reward, discount, mask, q_target, jax.lax.stop_gradient(q_online)
    )
    y = jax.lax.stop_gradient(y)
    num = y.shape[1]  # L - n
    q_taken = jnp.take_along_axis(q_online[:, :num], action[:, :num, None], axis=2)[..., 0]
    valid = mask[:, :num]
    count = jnp.maximum(valid.sum(axis=1), 1.0)
    delta = valid * (y - q_taken)
    per_sequence = 0.5 * (delta**2).sum(axis=1) / count
    loss = jnp.mean(weights * per_sequence)
    abs_delta = jnp.abs(delta)
    priorities = cfg.priority_eta * abs_delta.max(axis=1) + (1 - cfg.priority_eta) * (
        abs_delta.sum(axis=1) / count
    )
    q_mean = (valid * h_inv(jax.lax.stop_gradient(q_taken))).sum() / jnp.maximum(valid.sum(), 1.0)
    return loss, (priorities, q_mean)


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(cfg.max_grad_norm),
        optax.adam(cfg.learning_rate, eps=cfg.adam_eps),
    )


def make_learner(cfg: Config, num_actions: int):
    """(network, jitted acting step, optimizer, jitted update), compiled once per config (the
    planted ``reward_shift`` acts on the batch outside, so it shares the compiled update).

    update: (params, opt_state, target, batch, weights) -> (params, opt_state, loss,
    priorities, q_mean): one Adam step on the clipped gradient of ``loss_fn``."""
    return _make_learner(dataclasses.replace(cfg, reward_shift=0), num_actions)


@functools.lru_cache(maxsize=8)
def _make_learner(cfg: Config, num_actions: int):
    net = make_network(cfg, num_actions)
    optimizer = make_optimizer(cfg)

    @jax.jit
    def update(params, opt_state, target_params, batch, weights):
        (loss, (priorities, q_mean)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, target_params, batch, weights, cfg, net
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, loss, priorities, q_mean

    return net, jax.jit(net.apply), optimizer, update


def plant_reward_shift(reward: np.ndarray, shift: int) -> np.ndarray:
    """PLANTED BUG: rewards moved ``shift`` steps earlier in each [B, T] sequence, so the
    target of Q(x_t, a_t) starts with r_{t+1+shift} (DRLearner: Q(o[1:-1]) with reward[2:])."""
    return np.concatenate([reward[:, shift:], np.zeros_like(reward[:, :shift])], axis=1)


# ============================================================================ 6. priorities


class SequenceTable:
    """Every sequence inserted, in order (index = insertion number), with its priority."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.sequences: list[dict] = []
        self.priorities: list[float] = []
        self.max_priority = 1.0

    def insert(self, seq: dict) -> None:
        self.sequences.append(seq)
        self.priorities.append(self.max_priority)

    def batch(self, indices: np.ndarray) -> dict:
        keys = (*FIELDS, "lstm_h", "lstm_c")
        out = {k: np.stack([self.sequences[i][k] for i in indices]) for k in keys}
        for k in ("action", "prev_action"):
            out[k] = out[k].astype(np.int32)
        for k in ("observation", "reward", "discount", "prev_reward", "mask"):
            out[k] = out[k].astype(np.float32)
        return out

    def importance_weights(self, indices: np.ndarray) -> np.ndarray:
        """w_i = (N P(i))^-beta / max_j w_j, P(i) = p_i^alpha / sum_k p_k^alpha (Schaul 2016)."""
        p_alpha = np.asarray(self.priorities, np.float64) ** self.cfg.priority_exponent
        probability = p_alpha[indices] / p_alpha.sum()
        w = (len(self.sequences) * probability) ** -self.cfg.importance_sampling_exponent
        return w / w.max()

    def set_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        for i, p in zip(indices, priorities, strict=True):  # a repeated index: last one wins
            self.priorities[int(i)] = float(p)
        self.max_priority = max(self.max_priority, float(np.max(priorities)))


# ============================================================================ 7. the run


@dataclass
class ReferenceRun:
    """What the reference did, for the comparison."""

    initial_params: Any
    actions: list[np.ndarray] = field(default_factory=list)
    """[N] actions per loop iteration."""
    observations: list[np.ndarray] = field(default_factory=list)
    """[N, obs] observations acted on, per iteration."""
    sequences: list[dict] = field(default_factory=list)
    """Every sequence inserted into replay, in insertion order."""
    updates: list[dict] = field(default_factory=list)
    """Per update: env_steps, indices, weights, loss, q_mean, priorities, params, target."""
    final_priorities: np.ndarray | None = None
    episodes_terminated: int = 0
    episodes_truncated: int = 0
    sequences_padded: int = 0


def to_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.array(x), tree)


def run(
    cfg: Config,
    *,
    env_id: str,
    max_episode_steps: int | None,
    init_seed: int,
    explore_seed: int,
    env_seed: int,
    total_steps: int,
    sampled_indices: list[np.ndarray],
    max_updates: int | None = None,
) -> ReferenceRun:
    """Act with epsilon-greedy on N gymnasium copies, cut sequences, learn at the replay ratio.

    ``sampled_indices[u]`` are the sequence numbers (insertion order) of the u-th batch; the
    draw itself is the replay's, everything computed from it (weights, loss, priorities) is
    ours. Stops after ``total_steps`` env steps, or right after ``max_updates`` updates.
    """
    envs = [
        gymnasium.make(env_id, max_episode_steps=max_episode_steps) for _ in range(cfg.num_envs)
    ]
    num_actions = int(envs[0].action_space.n)
    obs_dim = int(np.prod(envs[0].observation_space.shape))
    net, act, optimizer, update = make_learner(cfg, num_actions)
    params = init_params(cfg, obs_dim, num_actions, init_seed)
    target_params = params
    opt_state = optimizer.init(params)
    acting_params = params
    rng = np.random.default_rng(explore_seed)
    eps = apex_epsilons(cfg)
    table = SequenceTable(cfg)
    out = ReferenceRun(initial_params=to_numpy(params))

    N, Z = cfg.num_envs, np.zeros((cfg.num_envs, cfg.lstm_size), np.float32)
    obs = np.stack([env.reset(seed=env_seed + i)[0] for i, env in enumerate(envs)])
    state = (Z.copy(), Z.copy())
    prev_action = np.zeros(N, np.int32)
    prev_reward = np.zeros(N, np.float32)
    episodes: list[list[dict]] = [[] for _ in range(N)]
    env_steps = 0
    num_updates = 0
    while env_steps < total_steps:
        # --- act: one network step for all N environments
        q, (h_new, c_new) = act(acting_params, obs, prev_action, prev_reward, state)
        h_new, c_new = np.array(h_new), np.array(c_new)  # the state after acting, per env
        actions, mu = epsilon_greedy(np.asarray(q), eps, rng)
        out.actions.append(actions)
        out.observations.append(obs.copy())
        new_obs = obs.copy()
        for i, env in enumerate(envs):
            x_next, r, terminated, truncated, _ = env.step(int(actions[i]))
            # store x_t with r_t (reward that led to x_t) and the state used to act in x_t
            step = make_step(
                obs[i], int(actions[i]), float(prev_reward[i]), 1.0,
                int(prev_action[i]), 1.0, float(mu[i]), (state[0][i], state[1][i]),
            )  # fmt: skip
            if not episodes[i]:
                episodes[i] += padding(cfg, step)
            episodes[i].append(step)
            new = sequences_completed(cfg, episodes[i], ended=False)
            if terminated or truncated:
                out.episodes_terminated += bool(terminated)
                out.episodes_truncated += bool(truncated and not terminated)
                # the final observation x_T with r_T; no action, discount 0 only if terminal
                episodes[i].append(
                    make_step(
                        x_next, 0, float(r), 0.0 if terminated else 1.0,
                        int(actions[i]), 0.0, 0.0, (Z[i], Z[i]),
                    )
                )  # fmt: skip
                ended = sequences_completed(cfg, episodes[i], ended=True)
                out.sequences_padded += sum(1 for s in ended if s["mask"][-1] == 0)
                new += ended
                episodes[i] = []
                x_next, _ = env.reset()
                h_new[i], c_new[i] = 0.0, 0.0  # a new episode starts from the zero state
                prev_action[i], prev_reward[i] = 0, 0.0
            else:
                prev_action[i], prev_reward[i] = actions[i], r
            for seq in new:
                table.insert(seq)
                out.sequences.append(seq)
            new_obs[i] = x_next
        obs = new_obs
        state = (h_new, c_new)
        previous, env_steps = env_steps, env_steps + N

        # --- learn: keep the replay ratio, then act with the new parameters
        if env_steps < cfg.min_replay_size:
            continue
        if env_steps // cfg.learn_every <= previous // cfg.learn_every:
            continue
        due = (
            math.floor((env_steps - cfg.min_replay_size) * cfg.samples_per_insert / cfg.batch_size)
            - num_updates
        )
        if due <= 0 or len(table.sequences) < cfg.batch_size:
            continue
        for _ in range(due):
            if num_updates >= len(sampled_indices):
                raise RuntimeError(f"update {num_updates + 1} has no sampled batch")
            indices = np.asarray(sampled_indices[num_updates])
            weights = table.importance_weights(indices)
            batch = table.batch(indices)
            if cfg.reward_shift:
                batch["reward"] = plant_reward_shift(batch["reward"], cfg.reward_shift)
            params, opt_state, loss, priorities, q_mean = update(
                params, opt_state, target_params, batch, weights.astype(np.float32)
            )
            num_updates += 1
            if num_updates % cfg.target_update_period == 0:
                target_params = params
            priorities = np.asarray(priorities, np.float64)
            table.set_priorities(indices, priorities)
            out.updates.append(
                {
                    "env_steps": env_steps,
                    "indices": indices,
                    "weights": weights,
                    "loss": float(loss),
                    "q_mean": float(q_mean),
                    "priorities": priorities,
                    "params": to_numpy(params),
                    "target_params": to_numpy(target_params),
                }
            )
            if max_updates is not None and num_updates >= max_updates:
                break
        acting_params = params
        if max_updates is not None and num_updates >= max_updates:
            break
    out.final_priorities = np.asarray(table.priorities)
    for env in envs:
        env.close()
    return out
