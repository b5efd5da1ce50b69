"""Time-to-solve of the R2D2 (or Agent57) bundle through the agentos API.

For each seed: a fresh agent folder in a temporary directory (``agentos init`` +
``install r2d2 <env>``), ``agentos.load_agent(folder, overrides).learn(steps, seed=seed)``,
then one JSON line ``{seed, env, steps, final_eval_mean, best_eval_mean, wall_s,
env_steps_per_s, evals}`` (``evals``: [env steps, mean greedy return] of every evaluation).

    python benchmarks/r2d2_cartpole.py --env cartpole --steps 100000 --seeds 0 1 2
    python benchmarks/r2d2_cartpole.py --env stateless_cartpole --steps 300000 --seeds 0
    python benchmarks/r2d2_cartpole.py --seeds 0 -p learner.learning_rate=5e-4
    python benchmarks/r2d2_cartpole.py --agent agent57 --env lunar_lander --steps 1000000 \
        --seeds 0 --eval-every 50000 -p loop.samples_per_insert=2

Targets: CartPole-v1 >= 475 within 100k env steps; stateless CartPole >= 400 within 300k.
Runs are tracked in a throwaway MLflow store (sqlite in the temporary directory).
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

ENVS = {
    "cartpole": "cartpole",
    "stateless_cartpole": "stateless_cartpole",
    "lunar_lander": "lunar_lander",
}
NUM_ENVS = 8
"""Environments stepped together (the Ape-X epsilon ladder spans them)."""


def train(
    env: str,
    steps: int,
    seed: int,
    overrides: list[str],
    eval_every: int,
    root: Path,
    agent_name: str = "r2d2",
) -> dict:
    """Train one seed in a fresh agent folder under ``root``; returns the JSON record."""
    import agentos
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = root / f"{env}_seed{seed}"
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON lines
        init(folder, None, False)
    install(folder, [agent_name, ENVS[env]], [])
    agent = agentos.load_agent(
        folder,
        [
            f"environment.num_envs={NUM_ENVS}",
            f"loop.eval_every={eval_every}",
            "loop.checkpoint_every=0",
            *overrides,
        ],
    )
    start = time.perf_counter()
    result = agent.learn(steps, seed=seed)
    wall = time.perf_counter() - start
    evals = [(int(e["env_steps"]), float(e["return_mean"])) for e in result.eval_history]
    return {
        "agent": agent_name,
        "seed": seed,
        "env": env,
        "steps": result.env_steps,
        "final_eval_mean": evals[-1][1],
        "best_eval_mean": max(v for _, v in evals),
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(result.env_steps / wall, 1),
        "learner_updates": result.learner_updates,
        "evals": evals,
        "overrides": overrides,
    }


def main() -> None:
    """Parse arguments, train each seed, print one JSON line per seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ENVS), default="cartpole")
    parser.add_argument("--agent", choices=["r2d2", "agent57"], default="r2d2")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        help="COMPONENT.PARAM=VALUE override (as `agentos learn -p`)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="r2d2_bench_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        for seed in args.seeds:
            record = train(
                args.env, args.steps, seed, args.param, args.eval_every, root, args.agent
            )
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
