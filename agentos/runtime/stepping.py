"""Acting one step and the small counting rules every layout shares.

``training_step`` is the exploring step of all N environment copies (the loop, the Ray workers
and the throughput benchmarks call it); ``crossed`` says whether a period (``log_every``,
``eval_every``...) was crossed; the seeds make each reset reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agentos.runtime.actor_calls import select_actions
from agentos.runtime.roles import Transition


def training_step(
    env: Any, actor: Any, observation: np.ndarray, extras: dict[str, Any], env_steps: int
) -> tuple[Any, dict[str, Any]]:
    """One exploring step of all N environments: act, step, feed the transition to the actor.

    Returns the environment's step and the extras to act with next (reset where an episode
    ended). Shared by the loop, the Ray workers and the throughput benchmarks.
    """
    action, new_extras = select_actions(
        actor, env, observation, extras, explore=True, env_steps=env_steps
    )
    step = env.step(action)
    actor.observe(
        Transition(
            observation=observation,
            action=action,
            reward=step.reward,
            terminated=step.terminated,
            truncated=step.truncated,
            next_observation=step.final_observation,
            extras=extras,
        )
    )
    done = step.terminated | step.truncated
    return step, reset_extras(actor, actor.after_step(new_extras, step), done)


def crossed(prev: int, now: int, every: int) -> bool:
    """Whether a multiple of ``every`` lies in (prev, now]."""
    return every > 0 and now // every > prev // every


def train_seed(seed: int, episodes: int) -> int:
    """The seed of the training environments' first reset."""
    return seed * 7919 + episodes * 31 + 1


def eval_seed(seed: int, evaluation: int) -> int:
    """The seed of the evaluation environment's reset for the ``evaluation``-th evaluation."""
    return 1_000_000 + seed * 7919 + evaluation * 1009


def reset_extras(actor: Any, extras: dict[str, Any], done: np.ndarray) -> dict[str, Any]:
    """Extras of finished episodes back to their initial values (recurrent state etc.)."""
    if not extras or not done.any():
        return extras
    fresh = actor.initial_extras(len(done))
    return {
        k: np.where(done.reshape((-1,) + (1,) * (np.ndim(v) - 1)), fresh[k], v)
        for k, v in extras.items()
    }


def check_finite_losses(metrics: dict[str, float], learner_updates: int) -> None:
    """Stop a run whose learner diverged: a NaN or infinite loss would otherwise train on as
    NaN weights and be dropped from the tracked metrics without a word."""
    bad = {k: v for k, v in metrics.items() if "loss" in k and not np.isfinite(v)}
    if bad:
        from agentos.errors import AgentOSError

        raise AgentOSError(
            f"learning diverged at learner update {learner_updates}: "
            + ", ".join(f"{k} = {v}" for k, v in sorted(bad.items())),
            fix="lower learner.learning_rate, or look for NaN/huge rewards or observations; "
            "checkpoints saved before it are kept (agentos run --checkpoint latest)",
        )
