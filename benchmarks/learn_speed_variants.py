"""Learning speed of named variants of a bundle's defaults, run alternately, side by side.

Each ``--variant NAME=KEY=VALUE,KEY=VALUE`` is a set of ``-p`` overrides on the bundle's
defaults (``NAME=`` alone is the defaults). Every round runs each variant once for
``--steps`` env steps, one after the other, so all see the same machine; evaluations and
checkpoints happen only at the end. The rate is taken between the first training-metric
record after ``--skip`` env steps and the last one, so start-up, compilation and the final
evaluation are left out. Prints one JSON line per run and a summary with each variant's
median and its ratio to the first variant.

    python benchmarks/learn_speed_variants.py --env gym:MiniGrid-MultiRoom-N2-S4-v0 \
        --variant defaults= --variant spi0.5=loop.samples_per_insert=0.5 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

QUIET = [
    "loop.eval_every=0",
    "loop.checkpoint_every=0",
    "loop.checkpoint_seconds=0",
    "loop.log_every=2000",
]


def one_run(folder: Path, steps: int, skip: int, overrides: list[str]) -> dict:
    """Learn ``steps`` env steps; returns the env-step rate after ``skip`` steps."""
    import agentos
    from agentos.runtime.loop import Hooks

    class Clock(Hooks):
        def __init__(self) -> None:
            self.marks: list[tuple[int, float]] = []

        def on_metrics(self, metrics: dict, step: int) -> None:
            if "train/steps_per_s" in metrics:
                self.marks.append((step, time.perf_counter()))

    clock = Clock()
    agentos.load_agent(folder, [*QUIET, *overrides]).learn(steps, seed=0, hooks=clock)
    marks = [m for m in clock.marks if m[0] >= skip]
    (s0, t0), (s1, t1) = marks[0], marks[-1]
    return {"steps": steps, "env_steps_per_s": round((s1 - s0) / (t1 - t0))}


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=K=V,K=V`` -> (NAME, [K=V, K=V])."""
    name, _, rest = text.partition("=")
    return name, [p for p in rest.split(",") if p]


def main(preset: list[str] | None = None, description: str | None = None) -> None:
    """Alternate the variants (``--variant``, else ``preset``) for ``--rounds`` rounds."""
    parser = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:MiniGrid-MultiRoom-N2-S4-v0")
    parser.add_argument("--bundle", default="agent57")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--skip", type=int, default=4_000, help="env steps left out at the start")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", help="NAME=K=V,K=V (repeat)")
    args = parser.parse_args()
    if not (args.variant or preset):
        parser.error("give at least one --variant NAME=K=V,...")
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    variants = [parse_variant(v) for v in args.variant or preset or []]
    rates: dict[str, list[int]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="learn_speed_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        folder = root / "agent"
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        install(folder, [args.bundle, args.env], [])
        for _ in range(args.rounds):
            for name, overrides in variants:
                record = one_run(folder, args.steps, args.skip, overrides)
                rates[name].append(record["env_steps_per_s"])
                line = {"env": args.env, "bundle": args.bundle, "variant": name, **record}
                print(json.dumps({**line, "overrides": overrides}), flush=True)
    first = statistics.median(rates[variants[0][0]])
    summary = {
        "env": args.env,
        "bundle": args.bundle,
        "rounds": args.rounds,
        "medians": {name: statistics.median(r) for name, r in rates.items()},
        "ratios": {name: round(statistics.median(r) / first, 2) for name, r in rates.items()},
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
