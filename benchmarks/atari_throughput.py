"""Atari (Pong) acting throughput: agentos sync/async copies vs Stable-Baselines3, as JSON.

Both sides step ALE Pong with uniformly random actions under the same preprocessing work
(frame skip 4 with max-pool of the last two frames, 84x84 grayscale, up to 30 no-ops at
reset), for 1, 8 and 32 copies:

* agentos: ``GymEnvironment`` on ``ALE/Pong-v5`` (``preprocessing: auto``), with
  ``vectorization: sync`` (one process) and ``async`` (a subprocess per copy);
* SB3: ``make_atari_env("PongNoFrameskip-v4")`` (its AtariWrapper: the same preprocessing
  plus episodic life, fire reset and reward clipping) with ``DummyVecEnv`` (one process) and
  ``SubprocVecEnv`` (a subprocess per copy). Skipped without ``pip install -e ".[bench]"``.

Each measurement runs ``--steps`` env steps after a warm-up; agentos and SB3 alternate for
``--rounds`` rounds per configuration so load on the machine hits both alike, and the
median rate and the median of the per-round ratios are reported. Prints one JSON line per
row and a summary line with the async/SubprocVecEnv ratios.

    python benchmarks/atari_throughput.py [--steps 8000] [--copies 1 8 32]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np


def _rate(env, num_actions: int, copies: int, steps: int) -> float:
    """Env steps/s of random actions on a vector env (already reset), which is then closed."""
    rng = np.random.default_rng(0)
    n = num_actions
    try:
        for _ in range(20):  # warm up
            env.step(rng.integers(n, size=copies))
        vector_steps = max(steps // copies, 20)
        start = time.perf_counter()
        for _ in range(vector_steps):
            env.step(rng.integers(n, size=copies))
        return vector_steps * copies / (time.perf_counter() - start)
    finally:
        env.close()


def _agentos_rate(copies: int, mode: str, steps: int) -> float:
    from agentos.envs.atari import AtariEnvironment, AtariParams
    from agentos.runtime.roles import BuildContext

    ctx = BuildContext(name="environment", seed=0, agent_dir=Path("."))
    env = AtariEnvironment(AtariParams(game="Pong", num_envs=copies, vectorization=mode), ctx)
    env.reset(seed=0)
    return _rate(env, env.action_space.n, copies, steps)


def _sb3_rate(copies: int, mode: str, steps: int) -> float | None:
    try:
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv
    except ImportError:
        return None
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)
    cls = SubprocVecEnv if mode == "async" else DummyVecEnv
    kwargs = {"start_method": "fork"} if mode == "async" else None  # inherits ALE's ids
    env = make_atari_env(
        "PongNoFrameskip-v4", n_envs=copies, seed=0, vec_env_cls=cls, vec_env_kwargs=kwargs
    )
    env.reset()
    return _rate(env, env.action_space.n, copies, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per measurement")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=3, help="alternations of agentos and SB3")
    args = parser.parse_args()
    ratios = {}
    for copies in args.copies:
        for mode in ("sync", "async"):
            ours, theirs = [], []
            for _ in range(args.rounds):  # alternate, so a busy spell hits both sides
                ours.append(_agentos_rate(copies, mode, args.steps))
                rate = _sb3_rate(copies, mode, args.steps)
                if rate is not None:
                    theirs.append(rate)
            row = {
                "copies": copies,
                "vectorization": mode,
                "agentos_env_steps_per_s": round(float(np.median(ours)), 1),
                "sb3": "DummyVecEnv" if mode == "sync" else "SubprocVecEnv",
                "sb3_env_steps_per_s": round(float(np.median(theirs)), 1) if theirs else None,
                "ratio": round(float(np.median(np.divide(ours, theirs))), 2) if theirs else None,
                "rounds": args.rounds,
            }
            print(json.dumps(row), flush=True)
            if theirs and mode == "async":
                ratios[copies] = row["ratio"]
    print(json.dumps({"summary": "agentos async / SB3 SubprocVecEnv (median of rounds)",
                      "ratios": ratios, "cpus": os.cpu_count(), "steps": args.steps}))  # fmt: skip


if __name__ == "__main__":
    main()
