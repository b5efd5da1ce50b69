"""Where one Agent57 learner update spends its time, piece by piece (milliseconds, CPU here).

The agent57 bundle's defaults on an environment (MiniGrid MultiRoom-N2-S4 unless ``--env``):
the replay is filled with 256 sequences by the bundle's actor, then each piece is timed after
compilation, as the mean of ``--repeats`` calls on one sampled batch:

- ``sample_ms``: a prioritized sample of a batch and its conversion to arrays;
- ``q_loss_ms`` / ``q_grad_ms``: the Retrace loss of both Q-networks (burn-in and unroll of
  the online and target networks), forward only / with its gradient;
- ``novelty_grad_ms``: the embedding's inverse-dynamics loss and RND's error, with gradients;
- ``update_ms``: the whole jitted ``update_step`` (both gradients, three Adam steps, target);
- ``learner_step_ms``: ``learner.step()``, sample to new priorities, as the loop calls it;
  ``learner_step_cpu_ms``: the process's CPU time (every thread) per ``learner.step()``.
  Under ``taskset -c 0`` the two give the update's cost on one core.

    python benchmarks/agent57_update_profile.py [--env gym:MiniGrid-MultiRoom-N2-S4-v0]
        [--repeats 200] [-p learner.batch_size=8 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filled_replay import filled_agent  # noqa: E402


def mean_ms(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Mean wall and process CPU time (every thread) of ``fn()`` in ms, its result waited
    for, after one untimed call."""
    import jax

    jax.block_until_ready(fn())
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    per_call = 1000 / repeats
    return (
        round((time.perf_counter() - wall) * per_call, 2),
        round((time.process_time() - cpu) * per_call, 2),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:MiniGrid-MultiRoom-N2-S4-v0")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("-p", "--param", action="append", default=[], help="an override")
    args = parser.parse_args()
    import jax
    import numpy as np

    from agentos.agents.agent57.learner import q_loss, update_step
    from agentos.agents.agent57.novelty_loss import novelty_loss

    with filled_agent("agent57", args.env, args.param, 256) as agent:
        learner, replay = agent.learner, agent.replay
        sampled = replay.sample(learner.batch_size)
        weights = jax.numpy.asarray(np.asarray(sampled.weights, dtype=np.float32))
        batch = {k: jax.numpy.asarray(v) for k, v in learner._batch(sampled.items).items()}
        state, network, config = learner.state, learner.network, learner.config
        betas, gammas = learner.betas, learner.gammas

        def q_total(q_params: Any) -> Any:
            return q_loss(
                q_params, state.target_params, batch, weights, betas, gammas, network, config
            )[0]

        def novelty_total(params: Any) -> Any:
            novelty = {"embedding": params["embedding"], "rnd": params["rnd"]}
            return novelty_loss(novelty, batch, network, params["rnd_obs"])[0]

        q_forward, q_grad = jax.jit(q_total), jax.jit(jax.grad(q_total))
        novelty_grad = jax.jit(jax.grad(novelty_total))
        n = args.repeats
        figures = {
            "sample_ms": mean_ms(
                lambda: learner._batch(replay.sample(learner.batch_size).items), n
            )[0],
            "q_loss_ms": mean_ms(lambda: q_forward(state.params["q"]), n)[0],
            "q_grad_ms": mean_ms(lambda: q_grad(state.params["q"]), n)[0],
            "novelty_grad_ms": mean_ms(lambda: novelty_grad(state.params), n)[0],
            "update_ms": mean_ms(
                lambda: update_step(
                    state, batch, weights, betas, gammas, network=network, config=config
                ),
                n,
            )[0],
        }
        # Last: learner.step() moves the learner's state and the replay's priorities on.
        wall_ms, cpu_ms = mean_ms(lambda: learner.step(), n)
        figures.update(learner_step_ms=wall_ms, learner_step_cpu_ms=cpu_ms)
        print(
            json.dumps(
                {
                    "benchmark": "agent57_update_profile",
                    "env": args.env,
                    "overrides": args.param,
                    "batch": {k: list(v.shape) for k, v in batch.items()},
                    **figures,
                    "cpus": len(os.sched_getaffinity(0)),
                    "jax": jax.__version__,
                }
            )
        )


if __name__ == "__main__":
    main()
