"""R2D2 / Agent57 throughput on LunarLander-v3: actor env steps/s with 1, 16 and 64 vectorised
environments (acting, env stepping, sequence adding and replay inserts; for Agent57 also the
episodic memory, RND and meta-controller; no learning), and learner updates/s at batch
64 x (burn-in 20 + trace 40) with LSTMs of 128 (Agent57: both Q-networks, embedding/IDM and RND).
Prints JSON lines.

    python benchmarks/r2d2_throughput.py [--steps 20000] [--updates 30]
    python benchmarks/r2d2_throughput.py --agent agent57 --envs 64 [--vectorization async]
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

SIZES = [
    "network.lstm_size=128",
    "network.hidden_sizes=[128]",
    "network.head_hidden=128",
    "actor.burn_in=20",
    "actor.trace_length=40",
    "actor.period=20",
    "learner.batch_size=64",
]


WARMUP_VECTOR_STEPS = 1_100
"""Vector steps acted before timing Agent57 (compiles included there, reported apart)."""


def _agent(folder: Path, num_envs: int, agent: str, vectorization: str = "sync"):
    import agentos
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    if not folder.exists():
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        install(folder, [agent, "lunar_lander"], [])
    overrides = [f"environment.num_envs={num_envs}", f"environment.vectorization={vectorization}"]
    return agentos.load_agent(folder, [*SIZES, *overrides])


def _platform() -> str:
    import jax

    return jax.devices()[0].platform


def _act(built, steps: int, state: dict) -> int:
    """Run the actor pipeline (act, step, add sequences to replay) for ``steps`` env steps."""
    from agentos.runtime.loop import training_step

    env, actor = built.one("environment"), built.one("actor")
    if "obs" not in state:
        state["obs"], state["extras"] = env.reset(seed=0), actor.initial_extras(env.num_envs)
    obs, extras, done_steps = state["obs"], state["extras"], 0
    while done_steps < steps:
        step, extras = training_step(env, actor, obs, extras, 0)
        obs = step.observation
        done_steps += env.num_envs
    state["obs"], state["extras"] = obs, extras
    return done_steps


def actor_throughput(
    folder: Path, num_envs: int, steps: int, agent: str, vectorization: str = "sync"
) -> dict:
    """Env steps/s of the acting pipeline with ``num_envs`` environments."""
    built = _agent(folder, num_envs, agent, vectorization).graph.build(seed=0)
    state: dict = {}
    # Agent57's k-NN compiles one shape per power-of-two memory fill: warm up through a whole
    # LunarLander episode (1,000 steps at most) so that the timed part is the steady state.
    warmup_vector_steps = WARMUP_VECTOR_STEPS if agent == "agent57" else 20
    t0 = time.perf_counter()
    warm = _act(built, max(num_envs * warmup_vector_steps, 200), state)
    warm_wall = time.perf_counter() - t0
    t0 = time.perf_counter()
    done = _act(built, steps, state)
    wall = time.perf_counter() - t0
    built.close()
    return {
        "benchmark": f"{agent}_actor",
        "device": _platform(),
        "env": "LunarLander-v3",
        "num_envs": num_envs,
        "vectorization": vectorization,
        "env_steps": done,
        "wall_s": round(wall, 2),
        "env_steps_per_s": round(done / wall, 1),
        "warmup_env_steps": warm,
        "warmup_env_steps_per_s": round(warm / warm_wall, 1),
    }


def learner_throughput(folder: Path, updates: int, agent: str) -> dict:
    """Learner updates/s at batch 64 x 60 steps, LSTM 128, replay filled by acting."""
    built = _agent(folder, 16, agent).graph.build(seed=0)
    learner, replay = built.one("learner"), built.one("replay")
    state: dict = {}
    while len(replay) < 4 * learner.batch_size:
        _act(built, 2000, state)
    learner.step(2)  # compile
    t0 = time.perf_counter()
    learner.step(updates)
    wall = time.perf_counter() - t0
    built.close()
    return {
        "benchmark": f"{agent}_learner",
        "device": _platform(),
        "batch": learner.batch_size,
        "sequence_length": 60,
        "lstm_size": 128,
        "updates": updates,
        "wall_s": round(wall, 2),
        "updates_per_s": round(updates / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--updates", type=int, default=30)
    parser.add_argument("--agent", choices=["r2d2", "agent57"], default="r2d2")
    parser.add_argument("--envs", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--vectorization",
        choices=["sync", "async"],
        default="sync",
        help="step the copies in this process (sync) or in worker processes (async)",
    )
    parser.add_argument("--no-learner", action="store_true", help="skip the learner benchmark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp}/mlflow.db")
        for n in args.envs:
            folder = Path(tmp) / f"agent{n}"
            record = actor_throughput(folder, n, args.steps, args.agent, args.vectorization)
            print(json.dumps(record), flush=True)
        if not args.no_learner:
            record = learner_throughput(Path(tmp) / "agent16", args.updates, args.agent)
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
