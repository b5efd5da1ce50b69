"""Learning speed with and without the learner's update overlapping acting, side by side.

For each round, one ``learn`` of ``--steps`` env steps with ``loop.overlap_learning=true``
and one with ``false`` (the same agent, seed and bundle defaults otherwise; evaluations and
checkpoints only at the end), one after the other so that both see the same machine. The
rate is taken between the first training-metric record after ``--skip`` env steps and the
last one, so start-up, compilation and the final evaluation are left out. Prints one JSON
line per run and a summary line with the medians and their ratio.

    python benchmarks/learn_overlap.py --env gym:MiniGrid-MultiRoom-N2-S4-v0 --rounds 3
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


def one_run(folder: Path, steps: int, skip: int, overlap: bool, extra: list[str]) -> dict:
    """Learn ``steps`` env steps; returns the env-step rate after ``skip`` steps."""
    import agentos
    from agentos.runtime.loop import Hooks

    class Clock(Hooks):
        def __init__(self) -> None:
            self.marks: list[tuple[int, float]] = []

        def on_metrics(self, metrics: dict, step: int) -> None:
            if "train/steps_per_s" in metrics:
                self.marks.append((step, time.perf_counter()))

    overrides = [
        "loop.eval_every=0",
        "loop.checkpoint_every=0",
        "loop.checkpoint_seconds=0",
        "loop.log_every=2000",
        f"loop.overlap_learning={str(overlap).lower()}",
        *extra,
    ]
    clock = Clock()
    agentos.load_agent(folder, overrides).learn(steps, seed=0, hooks=clock)
    marks = [m for m in clock.marks if m[0] >= skip]
    (s0, t0), (s1, t1) = marks[0], marks[-1]
    return {"overlap": overlap, "steps": steps, "env_steps_per_s": round((s1 - s0) / (t1 - t0))}


def main() -> None:
    """Alternate overlap on / off for ``--rounds`` rounds; print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:MiniGrid-MultiRoom-N2-S4-v0")
    parser.add_argument("--bundle", default="agent57")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--skip", type=int, default=4_000, help="env steps left out at the start")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-p", "--param", action="append", default=[], help="COMPONENT.KEY=VALUE")
    args = parser.parse_args()
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    rates: dict[bool, list[int]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="learn_overlap_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        folder = root / "agent"
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        install(folder, [args.bundle, args.env], [])
        for _ in range(args.rounds):
            for overlap in (True, False):
                record = one_run(folder, args.steps, args.skip, overlap, args.param)
                rates[overlap].append(record["env_steps_per_s"])
                print(json.dumps({"env": args.env, "bundle": args.bundle, **record}), flush=True)
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    summary = {
        "env": args.env,
        "bundle": args.bundle,
        "rounds": args.rounds,
        "median_overlap": on,
        "median_wait": off,
        "ratio": round(on / off, 2),
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
