"""DQN on CartPole-v1 as a user runs it: `agentos init`, `agentos install dqn cartpole`,
`agentos learn --steps 50000 --seed S`. Prints one JSON line per seed: final evaluation
mean return (10 greedy episodes), wall time, env steps/s, learner updates/s.

    python benchmarks/dqn_cartpole.py --seeds 0 1 2 --steps 50000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def run(seed: int, steps: int, env: str, root: Path) -> dict:
    """Train one seed in a fresh agent folder; returns the figures."""
    import agentos
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = root / f"dqn-{env}-{seed}"
    init(folder, None, False)
    install(folder, ["dqn", env], [])
    agent = agentos.load_agent(folder)
    t0 = time.perf_counter()
    result = agent.learn(steps, seed=seed)
    wall = time.perf_counter() - t0
    evals = [h["return_mean"] for h in result.eval_history]
    return {
        "benchmark": "dqn_learn",
        "env": env,
        "seed": seed,
        "steps": result.env_steps,
        "final_eval_mean": result.eval_mean,
        "best_eval_mean": max(evals),
        "evaluations": evals,
        "learner_updates": result.learner_updates,
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(result.env_steps / wall, 1),
        "learner_updates_per_s": round(result.learner_updates / wall, 1),
        "run_id": result.run_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--env", default="cartpole")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp}/mlflow.db")
        for seed in args.seeds:
            print(json.dumps(run(seed, args.steps, args.env, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
