"""Offline learning on CartPole-v1 as a user runs it: DQN online (`agentos learn`), three
datasets, then BC and CQL learned from each alone (`agentos install bc|cql`,
`agentos learn --offline`):

* ``expert``: episodes recorded from the online run's best checkpoint
  (`agentos record --checkpoint best`, optional ``--epsilon`` noise);
* ``medium``: episodes recorded from the run's checkpoint at the first evaluation within
  ``[0.3, 0.7]`` of ``--expert-return`` (the online run is learned in ``--chunk`` steps with
  `--resume`, so every chunk ends with an evaluation and a checkpoint to record from);
* ``mixed``: the whole replay of the online run (`agentos record --from-run RUN`): every
  transition it collected, from the first random steps to the end (the replay's capacity,
  100,000 by default, holds them all).

Prints one JSON line per row: the random baseline, the online run, each dataset (its mean
episode return, "behaviour"), each offline learner, dataset and seed with its final evaluation
return, ``normalised_expert`` ``(return - random) / (expert - random)`` with the online run's
best evaluation as expert, ``normalised_behaviour`` against the dataset's own return, and wall
time; then a mean row per dataset and learner, and the issue's goals (CQL >= 90% of the
behaviour's return on medium data; CQL above BC on mixed data).

    python benchmarks/offline_cartpole.py --dqn-steps 30000 --episodes 30 --updates 5000 \
        --seeds 0 1 2
    python benchmarks/offline_cartpole.py --learners r2d2_cql --datasets medium mixed  # recurrent

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


def emit(row: dict) -> None:
    """One JSON line on stdout."""
    print(json.dumps(row), flush=True)


def learn_online(args: argparse.Namespace, folder: Path) -> tuple[float, str, dict | None]:
    """DQN online for ``--dqn-steps`` in ``--chunk`` steps (resumed); the medium dataset is
    recorded at the first chunk whose closing evaluation lies in [0.3, 0.7] x expert.
    Returns (best evaluation, run id, the medium dataset's row or None)."""
    import agentos

    t0, done, medium = time.perf_counter(), 0, None
    lo, hi = 0.3 * args.expert_return, 0.7 * args.expert_return
    while done < args.dqn_steps:
        done = min(done + args.chunk, args.dqn_steps)
        online = agentos.load_agent(folder).learn(done, seed=0, resume=done > args.chunk)
        last = online.eval_history[-1]["return_mean"]
        if medium is None and "medium" in args.datasets and lo <= last <= hi:
            medium = record(args, folder, "medium", checkpoint="latest")
            medium["checkpoint_eval"] = last
            medium["checkpoint_env_steps"] = done
    best = max(h["return_mean"] for h in online.eval_history)
    emit(
        {
            "row": "dqn_online",
            "env_steps": online.env_steps,
            "best_eval_mean": best,
            "wall_s": round(time.perf_counter() - t0, 1),
            "run_id": online.run_id,
        }
    )
    return best, online.run_id, medium


def record(args: argparse.Namespace, folder: Path, kind: str, **how: str) -> dict:
    """Record dataset ``cartpole-KIND-v0``: episodes from ``checkpoint``, or ``from_run``'s
    replay. Returns its row."""
    import agentos
    from agentos.datasets.export import record_from_run

    name = f"cartpole-{kind}-v0"
    agent = agentos.load_agent(folder, [f"actor.evaluation_epsilon={args.epsilon}"])
    t0 = time.perf_counter()
    if "from_run" in how:
        data = record_from_run(agent, how["from_run"], name)
    else:
        data = agent.record(args.episodes, name, checkpoint=how["checkpoint"])
    return {
        "row": "dataset",
        "kind": kind,
        "name": name,
        "episodes": data.episodes,
        "steps": data.steps,
        "behaviour_return": round(data.return_mean, 1),
        "epsilon": None if "from_run" in how else args.epsilon,
        "digest": data.digest,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dqn-steps", type=int, default=30_000)
    parser.add_argument("--chunk", type=int, default=2_500, help="online steps per resume")
    parser.add_argument("--expert-return", type=float, default=500.0, help="medium = half")
    parser.add_argument("--episodes", type=int, default=30, help="episodes per dataset")
    parser.add_argument("--epsilon", type=float, default=0.0, help="recording noise")
    parser.add_argument("--updates", type=int, default=5_000, help="offline learner updates")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--datasets", nargs="+", default=["expert", "medium", "mixed"],
        choices=["expert", "medium", "mixed"],
    )  # fmt: skip
    parser.add_argument(
        "--learners", nargs="+", default=["bc", "cql"], choices=["bc", "cql", "r2d2_cql"],
        help="bundles to learn offline (r2d2_cql: recurrent CQL on sequences with burn-in)",
    )  # fmt: skip
    parser.add_argument("--recurrent-updates", type=int, default=1_000, help="updates of r2d2_cql")
    args = parser.parse_args()

    import agentos
    from agentos.components.install import install

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp}/mlflow.db")
        root = Path(tmp)
        baseline = root / "random"
        new_agent(baseline, ["random", "cartpole"])
        random = agentos.load_agent(baseline).run(episodes=args.eval_episodes).eval_mean
        emit({"row": "random", "return_mean": random})

        folder = root / "offline"
        new_agent(folder, ["dqn", "cartpole"])
        best, run_id, medium = learn_online(args, folder)
        datasets = []
        if "expert" in args.datasets:
            datasets.append(record(args, folder, "expert", checkpoint="best"))
        if "medium" in args.datasets:
            datasets.append(medium or {"row": "dataset", "kind": "medium", "skipped": "no "
                                       "evaluation in [0.3, 0.7] x --expert-return"})  # fmt: skip
        if "mixed" in args.datasets:
            datasets.append(record(args, folder, "mixed", from_run=run_id))
        for row in datasets:
            emit(row)
        scores: dict[tuple[str, str], list[float]] = {}
        for bundle in args.learners:
            updates = args.recurrent_updates if bundle == "r2d2_cql" else args.updates
            with contextlib.redirect_stdout(io.StringIO()):
                install(folder, [bundle], [])
            for data in (d for d in datasets if "skipped" not in d):
                for seed in args.seeds:
                    agent = agentos.load_agent(
                        folder,
                        [
                            f"replay.dataset={data['name']}",
                            "loop.eval_every=0",
                            f"loop.eval_episodes={args.eval_episodes}",
                        ],
                    )
                    t0 = time.perf_counter()
                    result = agent.learn_offline(updates, seed=seed)
                    wall = time.perf_counter() - t0
                    scores.setdefault((data["kind"], bundle), []).append(result.eval_mean)
                    emit(
                        {
                            "row": "offline",
                            "library": "agentos",
                            "learner": bundle,
                            "dataset": data["kind"],
                            "seed": seed,
                            "updates": result.learner_updates,
                            "return_mean": result.eval_mean,
                            "normalised_expert": normalised(result.eval_mean, random, best),
                            "normalised_behaviour": normalised(
                                result.eval_mean, random, data["behaviour_return"]
                            ),
                            "wall_s": round(wall, 1),
                            "updates_per_s": round(result.learner_updates / wall, 1),
                            "run_id": result.run_id,
                        }
                    )
        behaviour = {d["kind"]: d.get("behaviour_return") for d in datasets}
        for (kind, bundle), values in scores.items():
            mean = sum(values) / len(values)
            emit(
                {
                    "row": "mean",
                    "dataset": kind,
                    "learner": bundle,
                    "seeds": len(values),
                    "return_mean": round(mean, 1),
                    "normalised_expert": normalised(mean, random, best),
                    "normalised_behaviour": normalised(mean, random, behaviour[kind]),
                }
            )
        mean = {k: sum(v) / len(v) for k, v in scores.items()}
        goals = {}
        if ("medium", "cql") in mean:
            goals["cql_medium_ge_90pct_behaviour"] = (
                mean[("medium", "cql")] >= 0.9 * behaviour["medium"]
            )
        if ("mixed", "cql") in mean and ("mixed", "bc") in mean:
            goals["cql_beats_bc_on_mixed"] = mean[("mixed", "cql")] > mean[("mixed", "bc")]
        emit({"row": "goals", **goals})
        try:
            import d3rlpy  # noqa: F401
        except ImportError:
            reason = "d3rlpy not installed (2.8.1 requires gymnasium==1.0.0; agentos pins 1.4.0)"
        else:
            reason = "d3rlpy rows not implemented yet"
        emit({"row": "offline", "library": "d3rlpy", "skipped": reason})


if __name__ == "__main__":
    main()
