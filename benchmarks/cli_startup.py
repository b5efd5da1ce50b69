"""Wall time of `agentos --help` (median of repeated runs), as JSON."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time


def main(repeats: int = 10) -> dict:
    exe = shutil.which("agentos")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return {
        "benchmark": "cli_startup",
        "command": "agentos --help",
        "repeats": repeats,
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
