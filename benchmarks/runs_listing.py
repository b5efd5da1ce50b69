"""`agentos runs` wall time with 100 tracked runs (median of 5 calls), as JSON.

Makes an agent folder whose sqlite store holds ``--runs`` finished learn runs with a few
metrics each, then times the `agentos runs` command as a user types it (a new process each
time, so interpreter start-up and imports are included).

    python benchmarks/runs_listing.py [--runs 100] [--calls 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    from agentos.cli.init_cmd import init
    from agentos.tracking.store import RunTracker

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "agent"
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        for i in range(args.runs):
            tracker = RunTracker.start(
                folder, kind="learn", agent_name="agent", env_name="CartPole-v1",
                params={"learner.learning_rate": 1e-3}, seed=i, tags={},
            )  # fmt: skip
            with tracker:
                tracker.log_metrics({"train/env_steps": 1000.0, "eval/return_mean": 9.5}, 1000)
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-m", "agentos.cli.main", "runs", "-n", str(args.runs),
                 "--agent", str(folder)],
                capture_output=True, text=True, env={**env, "COLUMNS": "200"}, check=True,
            )  # fmt: skip
            times.append(time.perf_counter() - t0)
        listed = sum(1 for line in out.stdout.splitlines() if " learn " in line)
    print(json.dumps({
        "benchmark": "agentos_runs", "runs": args.runs, "listed": listed,
        "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
        "calls": args.calls,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
