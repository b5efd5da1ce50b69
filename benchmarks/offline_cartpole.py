"""Offline learning on CartPole-v1 (or LunarLander-v3, ``--env``) as a user runs it: DQN
online (`agentos learn`), three datasets, then BC and CQL learned from each alone
(`agentos install bc|cql`, `agentos learn --offline`):

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

Anchor: d3rlpy's DiscreteCQL on the same datasets, beside each agentos CQL row
(``--d3rlpy-python PATH``). d3rlpy 2.8.1 requires gymnasium==1.0.0 while agentos pins
gymnasium 1.4.0, so it runs in a venv of its own, made once outside the repository:

    python -m venv /work/venvs/d3rlpy
    /work/venvs/d3rlpy/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /work/venvs/d3rlpy/bin/pip install d3rlpy box2d==2.3.10 pygame  # the last two: LunarLander

This script reads each dataset with agentos, writes d3rlpy's MDPDataset arrays to an .npz
(``d3rlpy_anchor.mdp_arrays``) and agentos's CQL hyperparameters to a JSON file in its
temporary folder, and runs ``benchmarks/d3rlpy_cql_worker.py`` with that python: the same
number of updates (``--updates``), evaluation episodes (``--eval-episodes``) and seed. Rows:
``library: d3rlpy`` (return, normalised scores, wall time of dataset + training + evaluation,
and of the whole process with its imports) and ``d3rlpy_vs_agentos`` (agentos / d3rlpy ratios
of return and wall time), then the issue's goals: agentos's CQL matches or beats d3rlpy's
return (``ge``: its mean is not lower; ``matches_within_se``: it is at most one standard error
of the difference lower, as seeds swing far), and is faster. Mean rows carry ``return_se``.
torch gets ``--d3rlpy-threads`` threads (1 by default: on 2 busy cores torch's own default of
one thread per core ran 100x slower per update). Without ``--d3rlpy-python`` a row says the
d3rlpy rows were skipped.

    python benchmarks/offline_cartpole.py --learners cql --datasets medium --seeds 0 \
        --d3rlpy-python /work/venvs/d3rlpy/bin/python

``--env lunar_lander``: the same on LunarLander-v3 (random baseline, DQN expert and datasets
``lunarlander-KIND-v0`` on that environment). Its defaults: 300,000 DQN steps in 10,000-step
chunks, 300 episodes per dataset (about 100k steps for a landing expert), ``--expert-return``
200 (solved), and the medium window taken on the normalised return, ``random + [0.3, 0.7] x
(expert - random)``, since LunarLander's returns are negative at first (CartPole's window stays
``[0.3, 0.7] x expert``). Beyond 100,000 DQN steps ``mixed`` holds the replay's last 100,000
transitions (its capacity), not the whole run.

    python benchmarks/offline_cartpole.py --env lunar_lander --dqn-steps 150000 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from d3rlpy_anchor import cql_config, run_d3rlpy  # noqa: E402

# Per environment: its component, gymnasium id, dataset name prefix, the defaults of the options
# left unset, and whether the medium window is relative to the random baseline.
ENVS = {
    "cartpole": {
        "component": "cartpole", "gym_id": "CartPole-v1", "prefix": "cartpole",
        "dqn_steps": 30_000, "chunk": 2_500, "expert_return": 500.0, "episodes": 30,
        "medium_from_random": False,
    },
    "lunar_lander": {
        "component": "lunar_lander", "gym_id": "LunarLander-v3", "prefix": "lunarlander",
        "dqn_steps": 300_000, "chunk": 10_000, "expert_return": 200.0, "episodes": 300,
        "medium_from_random": True,
    },
}  # fmt: skip


def normalised(value: float, random: float, behaviour: float) -> float:
    """``(value - random) / (behaviour - random)``."""
    return round((value - random) / max(behaviour - random, 1e-9), 3)


def standard_error(values: list[float]) -> float:
    """Standard error of the mean (sample standard deviation / sqrt(n)); 0 for one value."""
    if len(values) < 2:
        return 0.0
    return statistics.stdev(values) / math.sqrt(len(values))


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
    base = args.random if ENVS[args.env]["medium_from_random"] else 0.0
    lo, hi = (base + f * (args.expert_return - base) for f in (0.3, 0.7))
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
    """Record dataset ``PREFIX-KIND-v0``: episodes from ``checkpoint``, or ``from_run``'s
    replay. Returns its row."""
    import agentos
    from agentos.datasets.export import record_from_run

    name = f"{ENVS[args.env]['prefix']}-{kind}-v0"
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


def make_datasets(args: argparse.Namespace, root: Path) -> tuple[float, float, list[dict]]:
    """The random baseline (emitted, and kept as ``args.random``), DQN online in
    ``root/offline`` and the datasets ``args.datasets`` recorded from it. Returns (random
    return, best online evaluation, dataset rows; a medium that found no checkpoint is a
    ``skipped`` row)."""
    import agentos

    component = ENVS[args.env]["component"]
    new_agent(root / "random", ["random", component])
    args.random = agentos.load_agent(root / "random").run(episodes=args.eval_episodes).eval_mean
    emit({"row": "random", "return_mean": args.random})
    folder = root / "offline"
    new_agent(folder, ["dqn", component])
    best, run_id, medium = learn_online(args, folder)
    datasets = []
    if "expert" in args.datasets:
        datasets.append(record(args, folder, "expert", checkpoint="best"))
    if "medium" in args.datasets:
        datasets.append(medium or {"row": "dataset", "kind": "medium", "skipped": "no "
                                   "evaluation in [0.3, 0.7] x --expert-return"})  # fmt: skip
    if "mixed" in args.datasets:
        datasets.append(record(args, folder, "mixed", from_run=run_id))
    return args.random, best, datasets


def d3rlpy_rows(args, folder, data, config, seed, ours, random, best) -> dict | None:
    """Run and emit the d3rlpy row beside agentos's CQL row ``ours``, and their ratios;
    returns the d3rlpy row (None on failure)."""
    theirs = run_d3rlpy(args, folder, data, config, seed, ENVS[args.env]["gym_id"])
    row = {"row": "offline", "library": "d3rlpy", "learner": "DiscreteCQL"}
    row.update(dataset=data["kind"], seed=seed)
    if "error" in theirs:
        emit({**row, "error": theirs["error"]})
        return None
    value = theirs["return_mean"]
    row.update(
        updates=theirs["updates"],
        return_mean=value,
        normalised_expert=normalised(value, random, best),
        normalised_behaviour=normalised(value, random, data["behaviour_return"]),
        wall_s=theirs["wall_s"],
        fit_s=theirs["fit_s"],
        updates_per_s=round(theirs["updates"] / max(theirs["fit_s"], 1e-9), 1),
        process_wall_s=theirs["process_wall_s"],
        torch_threads=theirs["torch_threads"],
        versions=theirs["versions"],
        config=theirs["config"],
    )
    emit(row)
    emit(
        {
            "row": "d3rlpy_vs_agentos",
            "dataset": data["kind"],
            "seed": seed,
            "return_agentos": ours["return_mean"],
            "return_d3rlpy": value,
            "return_ratio_agentos_over_d3rlpy": round(ours["return_mean"] / max(value, 1e-9), 3),
            "wall_s_agentos": ours["wall_s"],
            "wall_s_d3rlpy": row["wall_s"],
            "wall_ratio_agentos_over_d3rlpy": round(ours["wall_s"] / max(row["wall_s"], 1e-9), 3),
            "updates_per_s_agentos": ours["updates_per_s"],
            "updates_per_s_d3rlpy": row["updates_per_s"],
        }
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="cartpole", choices=sorted(ENVS))
    parser.add_argument("--dqn-steps", type=int, help="default per --env (see ENVS)")
    parser.add_argument("--chunk", type=int, help="online steps per resume")
    parser.add_argument("--expert-return", type=float, help="medium = half")
    parser.add_argument("--episodes", type=int, help="episodes per dataset")
    parser.add_argument("--epsilon", type=float, default=0.0, help="recording noise")
    parser.add_argument("--updates", type=int, default=20_000, help="offline learner updates")
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
    parser.add_argument(
        "--d3rlpy-python", default="",
        help="python of a separate venv with d3rlpy: adds d3rlpy's DiscreteCQL beside CQL",
    )  # fmt: skip
    parser.add_argument(
        "--d3rlpy-threads", type=int, default=1, help="torch threads in d3rlpy (0: its default)"
    )
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE",
        help="override for every offline learner's spec (e.g. network.init=lecun_normal)",
    )  # fmt: skip
    args = parser.parse_args()
    for key in ("dqn_steps", "chunk", "expert_return", "episodes"):
        if getattr(args, key) is None:
            setattr(args, key, ENVS[args.env][key])
    if args.d3rlpy_python and not Path(args.d3rlpy_python).is_file():
        parser.error(f"--d3rlpy-python {args.d3rlpy_python}: no such file")

    import agentos
    from agentos.components.install import install

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{tmp}/mlflow.db")
        root = Path(tmp)
        random, best, datasets = make_datasets(args, root)
        folder = root / "offline"
        for row in datasets:
            emit(row)
        scores: dict[tuple[str, str], list[float]] = {}
        walls: dict[tuple[str, str], list[float]] = {}
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
                            *args.param,
                        ],
                    )
                    t0 = time.perf_counter()
                    result = agent.learn_offline(updates, seed=seed)
                    wall = time.perf_counter() - t0
                    scores.setdefault((data["kind"], bundle), []).append(result.eval_mean)
                    walls.setdefault((data["kind"], bundle), []).append(wall)
                    ours = {
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
                    emit(ours)
                    if bundle == "cql" and args.d3rlpy_python:
                        theirs = d3rlpy_rows(
                            args, folder, data, cql_config(agent), seed, ours, random, best
                        )
                        if theirs is not None:
                            key = (data["kind"], "d3rlpy_cql")
                            scores.setdefault(key, []).append(theirs["return_mean"])
                            walls.setdefault(key, []).append(theirs["wall_s"])
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
                    "return_se": round(standard_error(values), 1),
                    "normalised_expert": normalised(mean, random, best),
                    "normalised_behaviour": normalised(mean, random, behaviour[kind]),
                    "wall_s_mean": round(sum(walls[kind, bundle]) / len(values), 1),
                }
            )
        mean = {k: sum(v) / len(v) for k, v in scores.items()}
        goals = {}
        if ("medium", "cql") in mean and ENVS[args.env]["medium_from_random"]:
            # returns can be negative: 90% of the behaviour's return above random
            goals["cql_medium_ge_90pct_behaviour_normalised"] = (
                normalised(mean[("medium", "cql")], random, behaviour["medium"]) >= 0.9
            )
        elif ("medium", "cql") in mean:
            goals["cql_medium_ge_90pct_behaviour"] = (
                mean[("medium", "cql")] >= 0.9 * behaviour["medium"]
            )
        if ("mixed", "cql") in mean and ("mixed", "bc") in mean:
            goals["cql_beats_bc_on_mixed"] = mean[("mixed", "cql")] > mean[("mixed", "bc")]
        for kind in sorted({k for k, learner in mean if learner == "d3rlpy_cql"}):
            if (kind, "cql") in mean:
                ours, theirs = (kind, "cql"), (kind, "d3rlpy_cql")
                goals[f"cql_{kind}_return_ge_d3rlpy"] = mean[ours] >= mean[theirs]
                # seeds swing far (CartPole: 150 to 500 on one dataset), so "matches" is a
                # gap within one standard error of the difference of the two means
                gap = math.hypot(standard_error(scores[ours]), standard_error(scores[theirs]))
                goals[f"cql_{kind}_matches_d3rlpy_within_se"] = mean[ours] >= mean[theirs] - gap
                goals[f"cql_{kind}_faster_than_d3rlpy"] = sum(walls[ours]) < sum(walls[theirs])
        emit({"row": "goals", **goals})
        if not args.d3rlpy_python:
            reason = (
                "no --d3rlpy-python (d3rlpy 2.8.1 requires gymnasium==1.0.0, agentos pins "
                "1.4.0: give the python of a separate venv with d3rlpy)"
            )
            emit({"row": "offline", "library": "d3rlpy", "skipped": reason})
        elif "cql" not in args.learners:
            emit({"row": "offline", "library": "d3rlpy", "skipped": "needs --learners cql"})


if __name__ == "__main__":
    main()
