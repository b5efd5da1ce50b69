"""Memory and throughput of a full prioritized sequence replay (R2D2 on LunarLander), as JSON.

Fills a ``PrioritizedSequenceReplay`` of 100,000 sequences of T = 60 steps (burn-in 20 +
trace 40) with LunarLander-sized items: observation [60, 8] float32, action / prev_action
[60] int32, reward / discount / mask / prev_reward [60] float32, LSTM state h and c [128]
float32 each. Reports the storage size, the peak RSS growth while filling, the insert rate
(one sequence per call, and batches of 64), and the sample rate of batches of 64 (alone and
followed by ``update_priorities``, as a learner step does). Rates are given per wall-clock
second and per CPU second of this process; on a shared machine compare the CPU figures.

    python benchmarks/replay_memory.py
    python benchmarks/replay_memory.py --capacity 10000 --tracemalloc
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np

from agentos.replay.prioritized import PrioritizedSequenceReplay
from agentos.runtime.roles import BuildContext

SEQUENCE_LENGTH = 60
"""Steps per stored sequence: burn-in 20 + trace 40."""
OBSERVATION_SIZE = 8
"""LunarLander-v3 observation size."""
LSTM_SIZE = 128
"""Units of the LSTM core (h and c stored at the start of each sequence)."""


def make_sequences(num: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``num`` random LunarLander-sized sequences."""
    t = SEQUENCE_LENGTH
    return {
        "observation": rng.standard_normal((num, t, OBSERVATION_SIZE), dtype=np.float32),
        "action": rng.integers(0, 4, size=(num, t), dtype=np.int32),
        "reward": rng.standard_normal((num, t), dtype=np.float32),
        "discount": np.ones((num, t), np.float32),
        "mask": np.ones((num, t), np.float32),
        "prev_action": rng.integers(0, 4, size=(num, t), dtype=np.int32),
        "prev_reward": rng.standard_normal((num, t), dtype=np.float32),
        "core_state_h": rng.standard_normal((num, LSTM_SIZE), dtype=np.float32),
        "core_state_c": rng.standard_normal((num, LSTM_SIZE), dtype=np.float32),
    }


def max_rss_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    scale = 1 if platform.system() == "Darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def rate(fn, min_seconds: float) -> tuple[float, float]:
    """Calls of ``fn`` per wall-clock second and per CPU second, over ``min_seconds`` or more.

    The CPU rate is the one to compare across runs on a shared, busy machine.
    """
    calls, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls / elapsed, calls / max(time.process_time() - cpu_start, 1e-9)


def main(capacity: int, batch_size: int, seconds: float, trace: bool) -> dict:
    rng = np.random.default_rng(0)
    pool = make_sequences(batch_size, rng)
    single = {key: value[:1] for key, value in pool.items()}
    sequence_bytes = sum(value[0].nbytes for value in pool.values())
    if trace:
        tracemalloc.start()
    rss_before = max_rss_bytes()

    context = BuildContext(name="replay", seed=0, agent_dir=Path("."))
    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(capacity=capacity, batch_size=batch_size), context
    )
    # Fill: the first 10% one sequence per call (an adder flushing one actor's sequence),
    # the rest in batches (an adder flushing several environments at once).
    num_single = max(1, capacity // 10)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(num_single):
        replay.add_items(single)
    single_s, single_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    num_batched = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while len(replay) < capacity:
        replay.add_items(pool)
        num_batched += batch_size
    batched_s, batched_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start

    rss_after = max_rss_bytes()
    traced_peak = None
    if trace:
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    storage_bytes = sum(array.nbytes for array in replay._storage.values())
    index_bytes = replay._tree._nodes.nbytes + replay._keys.nbytes + replay._priorities.nbytes

    def sample_and_update() -> None:
        batch = replay.sample(batch_size)
        replay.update_priorities(batch.keys, rng.random(batch_size))

    result = {
        "benchmark": "replay_memory",
        "replay": "PrioritizedSequenceReplay",
        "capacity_sequences": capacity,
        "sequence_length": SEQUENCE_LENGTH,
        "bytes_per_sequence": sequence_bytes,
        "storage_mb": round(storage_bytes / 1e6, 1),
        "index_mb": round(index_bytes / 1e6, 2),
        "peak_rss_delta_mb": round((rss_after - rss_before) / 1e6, 1),
        "peak_rss_total_mb": round(rss_after / 1e6, 1),
    }
    b = batch_size
    sample_rate = rate(lambda: replay.sample(batch_size), seconds)
    cycle_rate = rate(sample_and_update, seconds)
    for name, (wall, cpu) in {
        "add_sequences_batch_1": (num_single / single_s, num_single / single_cpu_s),
        f"add_sequences_batch_{b}": (num_batched / batched_s, num_batched / batched_cpu_s),
        f"sample_batches_batch_{b}": sample_rate,
        f"sample_and_update_batch_{b}": cycle_rate,
    }.items():
        result[f"{name}_per_s"] = round(wall, 1)
        result[f"{name}_per_cpu_s"] = round(cpu, 1)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)  # wall rates suffer from it
    if traced_peak is not None:
        result["tracemalloc_peak_mb"] = round(traced_peak / 1e6, 1)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput figure")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace numpy allocations (slower adds)"
    )
    args = parser.parse_args()
    print(json.dumps(main(args.capacity, args.batch_size, args.seconds, args.tracemalloc)))
