"""The learner of the reference Agent57 (``reference_agent57.py`` holds the config and the
networks, ``reference_agent57_actor.py`` the acting side and the run), from the papers:

* R2D2 (Kapturowski et al. 2019): stored LSTM states at each sequence's start, refreshed by a
  burn-in that gets no loss and no gradient; importance weights (N P(i))^-beta / max (Schaul
  et al. 2016); priorities eta max|delta| + (1 - eta) mean|delta| with eta = 0.9; new
  sequences get the largest priority seen so far (at least 1);
* Agent57 App. B / NGU App. F: an extrinsic and an intrinsic Q-network, each trained by
  transformed Retrace (Munos et al. 2016, with h of Pohlen et al. 2018) on its own reward,
  both bootstrapping with ONE greedy target policy on the arm's combined online values
  ``h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))``, discounted by the arm's ``gamma_j``; each network
  has its own Adam and its own global-norm clip;
* NGU App. A: the embedding trained through the inverse-dynamics head (cross-entropy of
  a_t given f(x_t), f(x_{t+1})), the RND predictor by its squared error on whitened input,
  each with its own Adam; RND's observation statistics take the batch's steps that have an
  action (all-time mean / var) before its loss is computed.

Convention shared with agentos (a choice, not derived from the components' code): the priority
is made of the arm's combined h-space TD error ``|delta_e + beta_j delta_i|`` per step (the
combined value is what the arm acts on; for arm 0 only the extrinsic error counts).

Retrace, written out (one sequence of trace length L, alignment of DESIGN.md: r_t, gamma_t
belong to x_{t-1}, a_{t-1} -> x_t):

    pi_s = greedy on the combined online values, c_s = lambda min(1, pi_s(a_s) / mu_s) m_s,
    V_s = h^{-1}(Q'(x_s, pi_s)), Q_s = h^{-1}(Q'(x_s, a_s)), g_s = gamma_j discount_s,
    G_{L-2} = r_{L-1} + g_{L-1} V_{L-1},
    G_t = r_{t+1} + g_{t+1} (V_{t+1} + c_{t+1} (G_{t+1} - Q_{t+1})),   y_t = h(G_t),
    loss = sum_heads mean_b w_b 0.5 sum_t m_t (y_t - Q(x_t, a_t))^2 / sum_t m_t.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .reference_agent57 import (
    FIELDS,
    Config,
    Nets,
    compile_key,
    h,
    h_inv,
    head,
    head_rewards,
    rnd_errors,
)

# ============================================================================ 6. losses


def unroll(nets: Nets, params, batch: dict, i: int, lo: int, hi: int, state, cfg: Config):
    """Head i over steps lo .. hi-1 of the batch from ``state``: -> (Q [B, hi-lo, A], state)."""
    arm = batch["arm"][:, 0].astype(jnp.int32)
    qs = []
    for t in range(lo, hi):
        q, state = nets.q.apply(
            params, batch["observation"][:, t], batch["prev_action"][:, t],
            head_rewards(cfg, batch["prev_reward"][:, t], i), arm, state,
        )  # fmt: skip
        qs.append(q)
    return jnp.stack(qs, axis=1), state


def retrace_targets(q_target, greedy, a, r, g, mu, m, lam, traces="retrace"):
    """Transformed Retrace targets y_t, t = 0 .. L-2, [B, L-1] (see the module docstring);
    ``traces="peng"``: Peng's Q(lambda), c_s = lambda m_s and Q_s = V_s."""
    L = a.shape[1]
    inv = h_inv(q_target)
    v = jnp.take_along_axis(inv, greedy[..., None], axis=-1)[..., 0]
    if traces == "peng":
        q_a, c = v, lam * m
    else:
        q_a = jnp.take_along_axis(inv, a[..., None], axis=-1)[..., 0]
        ratio = jnp.where(a == greedy, 1.0 / jnp.maximum(mu, 1e-30), 0.0)
        c = lam * jnp.minimum(1.0, ratio) * m
    returns = [r[:, L - 1] + g[:, L - 1] * v[:, L - 1]]
    for j in range(L - 2, 0, -1):  # G_{j-1} from G_j
        returns.insert(0, r[:, j] + g[:, j] * (v[:, j] + c[:, j] * (returns[0] - q_a[:, j])))
    return h(jnp.stack(returns, axis=1))


def q_loss(q_params, target_q, batch, weights, betas, gammas, cfg: Config, nets: Nets):
    """Both heads' weighted Retrace losses; aux: per-head losses, mean Q and priorities."""
    b, T = cfg.burn_in, cfg.sequence_length
    if cfg.exploit_every > 0:  # those sequences learn (off-policy) as the exploitative arm
        relabel = (jnp.arange(batch["arm"].shape[0]) % cfg.exploit_every == 0)[:, None]
        batch = {**batch, "arm": jnp.where(relabel, 0, batch["arm"])}
    online, target = [], []
    for i in range(2):
        start = (batch["lstm_h"][:, i], batch["lstm_c"][:, i])
        for params, out in ((head(q_params, i), online), (head(target_q, i), target)):
            state = start
            if b > 0:  # burn-in: only refreshes the state; no loss, no gradient
                state = jax.lax.stop_gradient(unroll(nets, params, batch, i, 0, b, start, cfg)[1])
            if b > 0 and cfg.burn_in_padding_skipped:
                # an episode's first sequence: its burn-in is padding, its state is x_0's
                at_x0 = jnp.all(batch["mask"][:, :b] == 0, axis=1)[:, None]
                state = tuple(jnp.where(at_x0, s0, s1) for s0, s1 in zip(start, state, strict=True))
            out.append(unroll(nets, params, batch, i, b, T, state, cfg)[0])
    target = [jax.lax.stop_gradient(q) for q in target]
    arm = batch["arm"][:, 0].astype(jnp.int32)
    beta, gamma = betas[arm][:, None], gammas[arm][:, None]
    combined = h(h_inv(online[0]) + beta[..., None] * h_inv(online[1]))
    greedy = jnp.argmax(jax.lax.stop_gradient(combined), axis=-1)
    a, m = batch["action"][:, b:], batch["mask"][:, b:]
    g = gamma * batch["discount"][:, b:]
    if cfg.extrinsic_time_limits == "end":
        # A time limit's final step (no action taken, yet not terminal) pays nothing after it.
        truncated_end = (m == 0) & (batch["discount"][:, b:] > 0)
        g = jnp.where(truncated_end, 0.0, g)
    # Non-episodic intrinsic return: the intrinsic head treats a termination as a time limit.
    gamma_i = (
        gamma if cfg.intrinsic_discount is None else jnp.minimum(gamma, cfg.intrinsic_discount)
    )
    g_i = gamma_i * (jnp.ones_like(g) if cfg.non_episodic_intrinsic else batch["discount"][:, b:])
    valid = m[:, :-1]
    count = jnp.maximum(valid.sum(axis=1), 1.0)
    aux, tds, total = {}, [], 0.0
    for i, name in enumerate(("extrinsic", "intrinsic")):
        traces = cfg.traces
        if traces == "peng_extrinsic":
            traces = ("peng", "retrace")[i]
        y = retrace_targets(target[i], greedy, a, batch["reward"][:, b:, i], (g, g_i)[i],
                            batch["mu"][:, b:], m, cfg.retrace_lambda, traces)  # fmt: skip
        q_taken = jnp.take_along_axis(online[i][:, :-1], a[:, :-1, None], axis=-1)[..., 0]
        td = valid * (jax.lax.stop_gradient(y) - q_taken)
        loss = jnp.mean(weights * 0.5 * (td**2).sum(axis=1) / count)
        total = total + loss
        tds.append(td)
        aux[f"loss_{name}"] = loss
        q_values = h_inv(jax.lax.stop_gradient(q_taken))
        aux[f"q_{name}_mean"] = (valid * q_values).sum() / jnp.maximum(valid.sum(), 1.0)
    abs_td = jnp.abs(tds[0] + beta * tds[1])
    eta = cfg.priority_eta
    aux["priorities"] = eta * abs_td.max(axis=1) + (1 - eta) * abs_td.sum(axis=1) / count
    return total, aux


def merged_stats(stats, x, w):
    """All-time mean / var of the rows of x with weight w in {0, 1}, merged with ``stats``."""
    m = w.sum()
    batch_mean = (w[:, None] * x).sum(axis=0) / jnp.maximum(m, 1.0)
    batch_var = (w[:, None] * (x - batch_mean) ** 2).sum(axis=0) / jnp.maximum(m, 1.0)
    n = stats["count"]
    total = jnp.maximum(n + m, 1.0)
    mean = (n * stats["mean"] + m * batch_mean) / total
    var = (n * (stats["var"] + (stats["mean"] - mean) ** 2)
           + m * (batch_var + (batch_mean - mean) ** 2)) / total  # fmt: skip
    new = {"mean": mean, "var": var, "count": n + m}
    return jax.tree_util.tree_map(lambda a, o: jnp.where(m > 0, a, o), new, stats)


def novelty_loss(params, batch, stats, nets: Nets):
    """Inverse-dynamics cross-entropy of a_t given (f(x_t), f(x_{t+1})) + RND error."""
    obs, m = batch["observation"], batch["mask"]
    flat = obs.reshape((-1,) + obs.shape[2:])
    f = nets.embedding.apply(params["embedding"]["embedding"], obs.reshape(flat.shape))
    f = f.reshape(obs.shape[:2] + (-1,))
    e_t = f[:, :-1].reshape((-1, f.shape[-1]))
    e_tp1 = f[:, 1:].reshape((-1, f.shape[-1]))
    logits = nets.idm.apply(params["embedding"]["idm"], e_t, e_tp1)
    a = batch["action"][:, :-1].reshape(-1)
    nll = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, a[:, None], -1)[:, 0]
    w = m[:, :-1].reshape(-1)
    idm = (w * nll).sum() / jnp.maximum(w.sum(), 1.0)
    variables = {"rnd": params["rnd"], "rnd_obs": stats}
    w = m.reshape(-1)
    rnd = (w * rnd_errors(nets, variables, flat)).sum() / jnp.maximum(w.sum(), 1.0)
    return idm + rnd, {"idm_loss": idm, "rnd_loss": rnd}


def optimizer(lr: float, eps: float, clip: float):
    return optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr, eps=eps))


def make_update(cfg: Config, nets: Nets):
    """Jitted (variables, target_q, opt_states, batch, weights, betas, gammas) -> (variables,
    opt_states, metrics), and the optimizer states' init; the caller copies the target."""
    return _make_update(compile_key(cfg), nets)


@functools.lru_cache(maxsize=8)
def _make_update(cfg: Config, nets: Nets):
    q_opt = optimizer(cfg.learning_rate, cfg.adam_eps, cfg.max_grad_norm)
    novelty_opt = optimizer(cfg.novelty_learning_rate, 1e-8, cfg.max_grad_norm)

    @jax.jit
    def update(variables, target_q, opt_states, batch, weights, betas, gammas):
        (_, aux), grads = jax.value_and_grad(q_loss, has_aux=True)(
            variables["q"], target_q, batch, weights, betas, gammas, cfg, nets
        )
        new_q, new_opt = [], {}
        for i in range(2):  # each Q-network on its own: clip, Adam
            updates, new_opt[f"q{i}"] = q_opt.update(
                head(grads, i), opt_states[f"q{i}"], head(variables["q"], i)
            )
            new_q.append(optax.apply_updates(head(variables["q"], i), updates))
        obs = batch["observation"]
        stats = merged_stats(
            variables["rnd_obs"], obs.reshape((-1,) + obs.shape[2:]), batch["mask"].reshape(-1)
        )
        params = {"embedding": variables["embedding"], "rnd": variables["rnd"]["predictor"]}

        def loss(p):
            rnd = {"predictor": p["rnd"], "target": variables["rnd"]["target"]}
            return novelty_loss({"embedding": p["embedding"], "rnd": rnd}, batch, stats, nets)

        (_, novelty_aux), grads = jax.value_and_grad(loss, has_aux=True)(params)
        new = {}
        for part in ("embedding", "rnd"):
            updates, new_opt[part] = novelty_opt.update(grads[part], opt_states[part], params[part])
            new[part] = optax.apply_updates(params[part], updates)
        variables = {
            "q": jax.tree_util.tree_map(lambda *x: jnp.stack(x), *new_q),
            "embedding": new["embedding"],
            "rnd": {"predictor": new["rnd"], "target": variables["rnd"]["target"]},
            "rnd_obs": stats,
        }
        metrics = {**aux, **novelty_aux}
        metrics["loss"] = metrics["loss_extrinsic"] + metrics["loss_intrinsic"]
        return variables, new_opt, metrics

    def init_opt(variables):
        return {
            "q0": q_opt.init(head(variables["q"], 0)),
            "q1": q_opt.init(head(variables["q"], 1)),
            "embedding": novelty_opt.init(variables["embedding"]),
            "rnd": novelty_opt.init(variables["rnd"]["predictor"]),
        }

    return update, init_opt


# ============================================================================ 7. priorities


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
        keys = (*FIELDS, "mu", "arm", "lstm_h", "lstm_c")
        out = {k: np.stack([self.sequences[i][k] for i in indices]) for k in keys}
        for k in keys:
            out[k] = out[k].astype(np.int32 if k in ("action", "prev_action") else np.float32)
        return out

    def importance_weights(self, indices: np.ndarray) -> np.ndarray:
        """w_i = (N P(i))^-beta / max_j w_j, P(i) = p_i^alpha / sum_k p_k^alpha."""
        p_alpha = np.asarray(self.priorities, np.float64) ** self.cfg.priority_exponent
        w = (len(self.sequences) * p_alpha[indices] / p_alpha.sum()) ** (
            -self.cfg.importance_sampling_exponent
        )
        return w / w.max()

    def set_priorities(self, indices: np.ndarray, priorities: np.ndarray) -> None:
        for i, p in zip(indices, priorities, strict=True):  # a repeated index: last one wins
            self.priorities[int(i)] = float(p)
        self.max_priority = max(self.max_priority, float(np.max(priorities)))
