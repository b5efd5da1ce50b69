"""Offline learning on CartPole-v1 as a user runs it: DQN online (`agentos learn`), a dataset
recorded from its best checkpoint (`agentos record --checkpoint best`), then BC and CQL learned
from that dataset alone (`agentos install bc|cql`, `agentos learn --offline`).

Prints one JSON line per row: the dataset (behaviour return), the random baseline, and each
offline learner and seed with its final evaluation return, its normalised score
``(return - random) / (behaviour - random)`` (1.0: as good as the data's policy; above 1 when
the data is noisier than the policy learned from it), the same against the DQN's best
evaluation (``normalised_expert``), and wall time.

    python benchmarks/offline_cartpole.py --dqn-steps 30000 --episodes 30 --updates 5000

d3rlpy rows (DiscreteCQL on the same Minari files) are skipped: d3rlpy 2.8.1, the current
release, requires gymnasium==1.0.0 while agentos pins gymnasium 1.4.0, so it is not installed
beside agentos; a row says so.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

DATASET = "cartpole-dqn-v0"


def normalised(value: float, random: float, behaviour: float) -> float:
    """``(value - random) / (behaviour - random)``."""
    return round((value - random) / max(behaviour - random, 1e-9), 3)


def new_agent(folder: Path, names: list[str]) -> None:
    """`agentos init FOLDER` and `agentos install NAMES...`, their messages kept off stdout."""
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    with contextlib.redirect_stdout(io.StringIO()):
        init(folder, None, False)
        install(folder, names, [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dqn-steps", type=int, default=30_000)
    parser.add_argument("--episodes", type=int, default=30, help="episodes in the dataset")
    parser.add_argument("--epsilon", type=float, default=0.0, help="recording noise")
    parser.add_argument("--updates", type=int, default=5_000, help="offline learner updates")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--eval-episodes", type=int, default=10)
    args = parser.parse_args()

    import agentos
    from agentos.components.install import install

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp}/mlflow.db")
        root = Path(tmp)
        baseline = root / "random"
        new_agent(baseline, ["random", "cartpole"])
        random = agentos.load_agent(baseline).run(episodes=args.eval_episodes).eval_mean
        print(json.dumps({"row": "random", "return_mean": random}), flush=True)

        folder = root / "offline"
        new_agent(folder, ["dqn", "cartpole"])
        t0 = time.perf_counter()
        online = agentos.load_agent(folder).learn(args.dqn_steps, seed=0)
        best = max(h["return_mean"] for h in online.eval_history)
        print(
            json.dumps(
                {
                    "row": "dqn_online",
                    "env_steps": online.env_steps,
                    "best_eval_mean": best,
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
        recorder = agentos.load_agent(folder, [f"actor.evaluation_epsilon={args.epsilon}"])
        t0 = time.perf_counter()
        data = recorder.record(args.episodes, DATASET, checkpoint="best")
        behaviour = data.return_mean
        print(
            json.dumps(
                {
                    "row": "dataset",
                    "name": DATASET,
                    "episodes": data.episodes,
                    "steps": data.steps,
                    "behaviour_return": behaviour,
                    "epsilon": args.epsilon,
                    "digest": data.digest,
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
        for bundle in ("bc", "cql"):
            with contextlib.redirect_stdout(io.StringIO()):
                install(folder, [bundle], [])
            for seed in args.seeds:
                agent = agentos.load_agent(
                    folder,
                    [
                        f"replay.dataset={DATASET}",
                        "loop.eval_every=0",
                        f"loop.eval_episodes={args.eval_episodes}",
                    ],
                )
                t0 = time.perf_counter()
                result = agent.learn_offline(args.updates, seed=seed)
                wall = time.perf_counter() - t0
                print(
                    json.dumps(
                        {
                            "row": "offline",
                            "library": "agentos",
                            "learner": bundle,
                            "seed": seed,
                            "updates": result.learner_updates,
                            "return_mean": result.eval_mean,
                            "normalised": normalised(result.eval_mean, random, behaviour),
                            "normalised_expert": normalised(result.eval_mean, random, best),
                            "wall_s": round(wall, 1),
                            "updates_per_s": round(result.learner_updates / wall, 1),
                            "run_id": result.run_id,
                        }
                    ),
                    flush=True,
                )
        try:
            import d3rlpy  # noqa: F401
        except ImportError:
            reason = "d3rlpy not installed (2.8.1 requires gymnasium==1.0.0; agentos pins 1.4.0)"
        else:
            reason = "d3rlpy rows not implemented yet"
        print(json.dumps({"row": "offline", "library": "d3rlpy", "skipped": reason}), flush=True)


if __name__ == "__main__":
    main()
