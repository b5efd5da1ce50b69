"""Exploration proof: Agent57 against the same agent without intrinsic reward (beta = 0) on the
sparse-reward permuted chain.

For each (variant, seed): a fresh agent folder (``agentos init`` + ``install agent57
permuted_chain``), ``agentos.load_agent(folder, overrides).learn(steps, seed=seed)`` and one JSON
line ``{variant, seed, steps, best_success, final_success, first_success_step, wall_s, evals}``.
The evaluation return of the chain is 1 for reaching its end and 0 otherwise, so the mean
evaluation return is the success rate. The ``r2d2`` variant is Agent57 with
``network.beta_max=0``: the same networks, replay, learner and budget, but the behaviour
ignores the intrinsic values, i.e. R2D2 with undirected (epsilon-greedy) exploration.

    python benchmarks/agent57_exploration.py --seeds 0 1 2 --steps 100000
    python benchmarks/agent57_exploration.py --variants agent57 --seeds 0 -p environment.length=15
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {"agent57": [], "r2d2": ["network.beta_max=0.0"]}
DEFAULTS = [
    "environment.num_envs=16",
    "environment.length=40",
    "loop.eval_episodes=16",
    "loop.checkpoint_every=0",
]
"""The benchmark's environment and loop settings (overridable with -p)."""


def train(
    variant: str,
    seed: int,
    steps: int,
    eval_every: int,
    extra: list[str],
    root: Path,
    stop_at: float | None = None,
):
    """One learning run (ended early once an evaluation reaches ``stop_at``, if given);
    returns its JSON record."""
    import agentos
    from agentos.runtime.loop import Hooks

    class StopAt(Hooks):
        reached = False

        def on_metrics(self, metrics: dict, step: int) -> None:
            if stop_at is not None and metrics.get("eval/return_mean", -1.0) >= stop_at:
                StopAt.reached = True

        def should_stop(self) -> bool:
            return StopAt.reached

    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = root / f"{variant}_seed{seed}"
    with contextlib.redirect_stdout(sys.stderr):
        init(folder, None, False)
    install(folder, ["agent57", "permuted_chain"], [])
    overrides = [*DEFAULTS, f"loop.eval_every={eval_every}", *VARIANTS[variant], *extra]
    agent = agentos.load_agent(folder, overrides)
    start = time.perf_counter()
    result = agent.learn(steps, seed=seed, hooks=StopAt())
    wall = time.perf_counter() - start
    evals = [(int(e["env_steps"]), float(e["return_mean"])) for e in result.eval_history]
    first = next((s for s, v in evals if v >= 0.9), None)
    return {
        "variant": variant,
        "seed": seed,
        "steps": result.env_steps,
        "best_success": max(v for _, v in evals),
        "final_success": evals[-1][1],
        "first_success_step": first,
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(result.env_steps / wall, 1),
        "learner_updates": result.learner_updates,
        "evals": evals,
        "overrides": overrides,
    }


def main() -> None:
    """Parse arguments, run every (variant, seed), print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", choices=sorted(VARIANTS), default=["agent57", "r2d2"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument(
        "--stop-at", type=float, default=None, help="end a run once an evaluation reaches this"
    )
    parser.add_argument("-p", "--param", action="append", default=[], help="COMPONENT.KEY=VALUE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent57_explore_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        for variant in args.variants:
            for seed in args.seeds:
                record = train(
                    variant, seed, args.steps, args.eval_every, args.param, root, args.stop_at
                )
                print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
