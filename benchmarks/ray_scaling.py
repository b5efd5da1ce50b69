"""Throughput of the Ray layout against the single-process loop (R2D2 bundle).

For each layout (``--actors 0`` = one process, then 1, 2, ... worker processes): a fresh agent
folder in a temporary directory (``agentos init`` + ``install r2d2 <env>``), ``learn(steps)``
with no periodic evaluation or checkpoint, then one JSON line::

    {"layout", "actors", "learner", "env", "steps", "num_envs", "wall_s", "startup_s",
     "env_steps_per_s", "learner_updates_per_s", "learner_updates", "samples_per_insert"}

``env_steps_per_s`` and ``learner_updates_per_s`` are the loop's own figures at the end of
training (``train/steps_per_s``, ``train/learner_updates_per_s``: counted from the first
acted step, so Ray's and the workers' start-up are left out); ``startup_s`` is the rest of
the wall time (building, Ray, workers, final evaluation).

    python benchmarks/ray_scaling.py --env cartpole --steps 20000 --actors 0 1 2
    python benchmarks/ray_scaling.py -p loop.samples_per_insert=0   # acting only
    python benchmarks/ray_scaling.py --learner-actor   # + the learner in its own process

Every worker acts in ``environment.num_envs`` copies (default 8), so N workers step N x 8.
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
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")


class _LastMetrics:
    """User hooks keeping the latest value of every metric."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.metrics.update(metrics)

    def on_progress(self, progress: Any) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def measure(
    env: str,
    steps: int,
    actors: int,
    overrides: list[str],
    root: Path,
    learner_actor: bool = False,
) -> dict:
    """One learn run in a fresh folder under ``root``; returns the JSON record."""
    import agentos
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = root / f"{env}_actors{actors}_{'learner_actor' if learner_actor else 'driver'}"
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON lines
        init(folder, None, False)
    install(folder, ["r2d2", env], [])
    agent = agentos.load_agent(
        folder,
        ["loop.eval_every=0", "loop.eval_episodes=1", "loop.checkpoint_every=0", *overrides],
    )
    hooks = _LastMetrics()
    start = time.perf_counter()
    result = agent.learn(steps, seed=0, hooks=hooks, actors=actors, learner_actor=learner_actor)
    wall = time.perf_counter() - start
    rate = hooks.metrics["train/steps_per_s"]
    return {
        "layout": "ray" if actors else "single-process",
        "actors": actors,
        "learner": "process" if learner_actor else "driver",
        "env": env,
        "steps": result.env_steps,
        "num_envs": agent.graph.num_envs,
        "wall_s": round(wall, 1),
        "startup_s": round(wall - result.env_steps / rate, 1),
        "env_steps_per_s": round(rate, 1),
        "learner_updates_per_s": round(hooks.metrics["train/learner_updates_per_s"], 2),
        "learner_updates": result.learner_updates,
        "samples_per_insert": agent.graph.loop.samples_per_insert,
        "overrides": overrides,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="cartpole", help="cartpole or lunar_lander")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--actors", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--learner-actor",
        action="store_true",
        help="also measure each Ray layout with the learner in its own process",
    )
    parser.add_argument("-p", "--param", action="append", default=[], help="override")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{Path(tmp) / 'mlflow.db'}")
        runs = [(actors, False) for actors in args.actors]
        if args.learner_actor:
            runs += [(actors, True) for actors in args.actors if actors > 0]
        for actors, learner_actor in runs:
            record = measure(args.env, args.steps, actors, args.param, Path(tmp), learner_actor)
            print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
