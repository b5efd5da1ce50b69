"""Where a learning step's CPU goes: the env-step rate, the cores used, the main thread's share.

For each ``--variant NAME=K=V,...`` (``-p`` overrides of the bundle's defaults, as in
``learn_speed_variants.py``), one ``learn`` of ``--steps`` env steps; between the first
training-metric record after ``--skip`` env steps and the last one it takes the wall time,
the process's CPU time (every thread) and the main thread's CPU time (acting: environments,
actor, adder, sampling; the update runs in its own thread under ``loop.overlap_learning``).
Figures are per 16 env steps, one update of 16 sequences at the agent57 defaults. A variant
``loop.min_replay_size=10000000`` never learns: acting alone. One JSON line per variant.

    python benchmarks/learn_cpu_split.py --variant acting=loop.min_replay_size=10000000 \
        --variant defaults=
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filled_replay import installed_agent  # noqa: E402
from learn_speed_variants import QUIET, parse_variant  # noqa: E402


def one_run(folder: Path, steps: int, skip: int, overrides: list[str]) -> dict:
    """Learn ``steps`` env steps; wall and CPU figures after ``skip`` steps."""
    import agentos
    from agentos.runtime.loop import Hooks

    class Clock(Hooks):
        def __init__(self) -> None:
            self.marks: list[tuple[int, float, float, float]] = []

        def on_metrics(self, metrics: dict, step: int) -> None:
            if "train/steps_per_s" in metrics:
                now = (time.perf_counter(), time.process_time(), time.thread_time())
                self.marks.append((step, *now))

    clock = Clock()
    agentos.load_agent(folder, [*QUIET, *overrides]).learn(steps, seed=0, hooks=clock)
    marks = [m for m in clock.marks if m[0] >= skip]
    (s0, wall0, cpu0, main0), (s1, wall1, cpu1, main1) = marks[0], marks[-1]
    per16 = 16_000 / (s1 - s0)  # ms per 16 env steps, from seconds per env step
    wall = wall1 - wall0
    return {
        "env_steps_per_s": round((s1 - s0) / wall),
        "cores_busy": round((cpu1 - cpu0) / wall, 2),
        "main_thread_busy": round((main1 - main0) / wall, 2),
        "wall_ms_per_16": round(wall * per16, 2),
        "cpu_ms_per_16": round((cpu1 - cpu0) * per16, 2),
        "main_thread_cpu_ms_per_16": round((main1 - main0) * per16, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:MiniGrid-MultiRoom-N2-S4-v0")
    parser.add_argument("--bundle", default="agent57")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--skip", type=int, default=6_000, help="env steps left out at the start")
    parser.add_argument("--variant", action="append", required=True, help="NAME=K=V,K=V")
    args = parser.parse_args()
    with installed_agent([args.bundle, args.env]) as folder:
        for name, overrides in (parse_variant(v) for v in args.variant):
            record = one_run(folder, args.steps, args.skip, overrides)
            line = {"env": args.env, "bundle": args.bundle, "variant": name, **record}
            print(json.dumps({**line, "overrides": overrides}), flush=True)


if __name__ == "__main__":
    main()
