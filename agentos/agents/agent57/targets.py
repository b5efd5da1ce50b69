"""Agent57's learning targets as pure functions: the split Retrace targets of the extrinsic
and intrinsic heads, the per-step errors priorities are made from, and which arm each sequence
of a batch is trained for (Badia et al. 2020, https://arxiv.org/abs/2003.13350 , App. B)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from agentos.agents.agent57.network import NUM_HEADS
from agentos.agents.r2d2 import losses
from agentos.agents.r2d2.learner import retrace_sequence_targets

HEAD_TRACES = {
    "retrace": ("retrace", "retrace"),
    "peng": ("peng", "peng"),
    "peng_extrinsic": ("peng", "retrace"),
}
"""The ``traces`` choices: the trace kind of the (extrinsic, intrinsic) heads."""


def split_retrace_targets(
    q_online_t: jax.Array,
    q_target_t: jax.Array,
    a_t: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    mask_t: jax.Array,
    mu_t: jax.Array,
    beta: jax.Array,
    gamma: jax.Array,
    extrinsic_lambda: jax.Array | None = None,
    *,
    lambda_: float,
    tx_pair: losses.TxPair,
    non_episodic_intrinsic: bool = False,
    traces: str = "retrace",
    intrinsic_discount: float | None = None,
    extrinsic_time_limits: str = "bootstrap",
) -> jax.Array:
    """Transformed Retrace targets ``[2, L - 1]`` of the extrinsic and intrinsic heads of one
    trace, both with the greedy policy on the combined online values (Agent57 App. B).

    ``non_episodic_intrinsic``: the intrinsic head bootstraps through terminations as through
    time limits (RND's non-episodic intrinsic return, Burda et al. 2018, section 2.3,
    https://arxiv.org/abs/1810.12894 ). Novelty is positive at every step, so an intrinsic
    value that ends at termination makes reaching a terminal goal a loss, and the
    exploratory arms learn to avoid the rewards they find.

    ``q_online_t``/``q_target_t`` are ``[2, L, A]`` (head 0 extrinsic, 1 intrinsic), ``r_t``
    ``[L, 2]`` the matching rewards, ``discount_t`` ``[L]`` the stored 0/1 discounts, which are
    multiplied by the arm's ``gamma``; ``beta`` weighs the intrinsic values in the policy.
    Alignment: the target of ``Q(x_t, a_t)`` uses ``r_t[t + 1]`` (see ``retrace_sequence_targets``).
    ``traces`` names the heads' trace kinds (``HEAD_TRACES``): Retrace's cut traces, Peng's
    Q(lambda), or Peng's for the extrinsic head only; ``extrinsic_lambda`` (None: ``lambda_``)
    is the extrinsic head's lambda. ``intrinsic_discount`` caps the
    intrinsic head's discount at ``min(gamma, intrinsic_discount)`` (RND's gamma_I = 0.99,
    Burda et al. 2018, section 2.3); None: the arm's ``gamma`` for both heads (Agent57).
    ``extrinsic_time_limits``: ``"bootstrap"`` treats a time limit as a cut of an endless
    task (the stored final step's discount 1; Pardo et al. 2018); ``"end"`` ends the
    extrinsic return there, as a task whose time limit is part of it pays nothing after it.
    """
    h, h_inv = tx_pair
    q_policy = h(h_inv(q_online_t[0]) + beta * h_inv(q_online_t[1]))
    gamma_i = gamma if intrinsic_discount is None else jnp.minimum(gamma, intrinsic_discount)
    # A truncated episode's final step is the only stored step with mask 0 and discount 1.
    discount_e = discount_t * mask_t if extrinsic_time_limits == "end" else discount_t
    discounts = (
        gamma * discount_e,
        gamma_i * (jnp.ones_like(discount_t) if non_episodic_intrinsic else discount_t),
    )
    head_traces = HEAD_TRACES[traces]
    lambdas = (lambda_ if extrinsic_lambda is None else extrinsic_lambda, lambda_)
    targets = [
        retrace_sequence_targets(
            a_t,
            r_t[:, head],
            discounts[head],
            mask_t,
            mu_t,
            q_target_t[head],
            q_policy,
            gamma=1.0,
            lambda_=lambdas[head],
            tx_pair=tx_pair,
            traces=head_traces[head],
        )
        for head in range(NUM_HEADS)
    ]
    return jnp.stack(targets)


def resolve_time_limits(choice: str, time_limit_ends_task: bool) -> str:
    """``extrinsic_time_limits`` with ``auto`` resolved for the environment at hand."""
    if choice != "auto":
        return choice
    return "end" if time_limit_ends_task else "bootstrap"


def exploit_arms(arm: jax.Array, every: int) -> jax.Array:
    """The arms each sequence of a batch is trained for: every ``every``-th one (0: none) as
    the exploitative arm 0, the others as the arm that collected them; ``[B] -> [B]``.

    Agent57 trains a sequence only for its own arm j, so arm 0's values learn from the rare
    episodes that arm 0 itself plays, and from the exploratory arms' successes only through
    shared weights. Retrace is correct for any behaviour policy (Munos et al. 2016): the
    trace of a relabelled sequence is cut wherever its actions leave arm 0's greedy policy,
    so training it as arm 0 is sound off-policy learning of the exploitative policy. The
    batch is strided rather than cut in two because prioritized sampling orders it by
    replay position.
    """
    if every <= 0:
        return arm
    return jnp.where(jnp.arange(arm.shape[0]) % every == 0, 0, arm)


def extrinsic_lambdas(
    own_arm: jax.Array, trained_arm: jax.Array, lambda_: float, exploit_lambda: float | None
) -> jax.Array:
    """The extrinsic head's lambda per sequence ``[B]``: ``exploit_lambda`` for a sequence an
    exploratory arm collected and ``exploit_arms`` relabelled as arm 0, ``lambda_`` otherwise.

    Peng's uncut traces (Kozuno et al. 2021) on a relabelled sequence carry the explorer's
    own returns into arm 0's values; a short lambda keeps such targets close to Q-learning's.
    On the rebuilt maze of issue 11 neither 0.8 nor 0 stopped arm 0's evaluation dips
    (``docs/agent57_log.md``), so the bundle leaves it off.
    """
    if exploit_lambda is None:
        return jnp.full(own_arm.shape, lambda_)
    relabelled = (trained_arm == 0) & (own_arm != 0)
    return jnp.where(relabelled, exploit_lambda, lambda_)


def split_abs_td(td_e: jax.Array, td_i: jax.Array, beta: jax.Array) -> jax.Array:
    """Per-step ``|delta_e + beta_j delta_i|`` ``[B, L']`` from which priorities are made.

    Agent57 (App. B) learns the two heads separately but acts on
    ``h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))``, NGU's single value; the priority follows the
    error of that combined value, the heads' h-space TD errors mixed with the arm's
    ``beta_j``. For the exploitative arm (beta 0) only the extrinsic error counts.

    Measured against the alternative ``|delta_e| + beta_j |delta_i|`` (no cancellation of
    opposite errors): on the permuted-chain exploration proof (40 cells, seed 2, the bundle's
    defaults) the combined form reaches evaluation success 1.0 at 25k env steps, the
    split form found the end once (0.5 at 20k) and then never again up to 100k, because the
    large intrinsic errors of the exploratory arms outrank the rare extrinsic ones.
    """
    return jnp.abs(td_e + beta[:, None] * td_i)
