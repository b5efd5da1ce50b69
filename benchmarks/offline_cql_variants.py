"""CQL variants side by side on the datasets of ``benchmarks/offline_cartpole.py``, with d3rlpy's
DiscreteCQL as the anchor: which default holds on every dataset, not on one.

The DQN run and its three datasets (expert, medium, mixed; the issue's sizes: CartPole 100k
DQN steps in 5k chunks, 600 episodes per dataset; LunarLander 100k steps in 10k chunks, 300
episodes) are made once in ``--workdir`` and kept, so later calls add variants on the very
same data. Every (variant, dataset, seed, updates) result is appended to
``WORKDIR/ENV/results.jsonl`` and reused, so a call prints the table of all it was asked for:

    python benchmarks/offline_cql_variants.py --env cartpole --variants base \
        learner.huber_delta=1 learner.alpha=0.5 --d3rlpy-python /work/venvs/d3rlpy/bin/python
    python benchmarks/offline_cql_variants.py --env lunar_lander --datasets expert medium mixed \
        --variants base network.layer_norm_position=after_activation

A variant is ``base`` (the ``cql`` bundle's defaults) or comma-separated ``KEY=VALUE``
overrides. Each printed JSON line is one variant on one dataset: the mean, standard error and
every seed's final evaluation return (10 greedy episodes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import d3rlpy_anchor  # noqa: E402
import offline_cartpole as bench  # noqa: E402

SIZES = {
    "cartpole": {"dqn_steps": 100_000, "chunk": 5_000, "episodes": 600, "expert_return": 500.0},
    "lunar_lander": {
        "dqn_steps": 100_000, "chunk": 10_000, "episodes": 300, "expert_return": 200.0,
    },
}  # fmt: skip


def kept_datasets(args: argparse.Namespace, root: Path) -> dict:
    """The random baseline, the DQN run and its datasets in ``root``, made once by the
    benchmark's own ``make_datasets`` and then read back; their summary."""
    from agentos.components.install import install

    meta_file = root / "meta.json"
    if meta_file.exists():
        return json.loads(meta_file.read_text())
    with contextlib.redirect_stdout(io.StringIO()):  # its rows go into meta.json instead
        random, best, rows = bench.make_datasets(args, root)
        install(root / "offline", ["cql"], [])
    meta = {"random": random, "best": best, "datasets": [r for r in rows if "skipped" not in r]}
    meta_file.write_text(json.dumps(meta))
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="cartpole", choices=sorted(SIZES))
    parser.add_argument("--variants", nargs="*", default=["base"], help="base or K=V,K=V")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--datasets", nargs="+", default=["medium", "mixed"])
    parser.add_argument("--updates", type=int, default=20_000)
    parser.add_argument("--workdir", default="benchmarks/.offline_cql_variants")
    parser.add_argument("--d3rlpy-python", default="", help="adds d3rlpy's DiscreteCQL rows")
    args = parser.parse_args()
    args.epsilon, args.eval_episodes, args.d3rlpy_threads = 0.0, 10, 1
    for key, value in SIZES[args.env].items():
        setattr(args, key, value)
    root = Path(args.workdir).resolve() / args.env
    root.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/mlflow.db"
    asked, args.datasets = args.datasets, ["expert", "medium", "mixed"]  # all kept on disk
    meta = kept_datasets(args, root)

    import agentos

    folder = root / "offline"
    cache_file = root / "results.jsonl"
    cache = {}
    if cache_file.exists():
        for line in cache_file.read_text().splitlines():
            row = json.loads(line)
            cache[row["variant"], row["dataset"], row["seed"], row["updates"]] = row

    def result(variant: str, data: dict, seed: int) -> float:
        key = (variant, data["kind"], seed, args.updates)
        if key not in cache:
            t0 = time.perf_counter()
            if variant == "d3rlpy":
                agent = agentos.load_agent(folder, [f"replay.dataset={data['name']}"])
                config = d3rlpy_anchor.cql_config(agent)
                gym_id = bench.ENVS[args.env]["gym_id"]
                run = d3rlpy_anchor.run_d3rlpy(args, folder, data, config, seed, gym_id)
                if "error" in run:
                    raise SystemExit(run["error"])
                value = run["return_mean"]
            else:
                overrides = [] if variant == "base" else variant.split(",")
                agent = agentos.load_agent(
                    folder,
                    [f"replay.dataset={data['name']}", "loop.eval_every=0", *overrides],
                )
                value = agent.learn_offline(args.updates, seed=seed).eval_mean
            row = {"variant": variant, "dataset": data["kind"], "seed": seed}
            row.update(updates=args.updates, return_mean=value)
            row["wall_s"] = round(time.perf_counter() - t0, 1)
            cache[key] = row
            with cache_file.open("a") as file:
                file.write(json.dumps(row) + "\n")
        return cache[key]["return_mean"]

    variants = list(args.variants) + (["d3rlpy"] if args.d3rlpy_python else [])
    for variant in variants:
        for data in (d for d in meta["datasets"] if d["kind"] in asked):
            values = [result(variant, data, seed) for seed in args.seeds]
            row = {"env": args.env, "variant": variant, "dataset": data["kind"]}
            row["updates"] = args.updates
            row.update(
                behaviour_return=data["behaviour_return"],
                return_mean=round(sum(values) / len(values), 1),
                return_se=round(bench.standard_error(values), 1),
                returns=[round(v, 1) for v in values],
            )
            bench.emit(row)


if __name__ == "__main__":
    main()
