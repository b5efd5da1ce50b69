"""Learning speed of named variants of a bundle's defaults, run alternately, side by side.

Each ``--variant NAME=KEY=VALUE,KEY=VALUE`` is a set of ``-p`` overrides on the bundle's
defaults (``NAME=`` alone is the defaults). Every round runs each variant once, one after the
other, so all see the same machine; the rate leaves out start-up, compilation and the final
evaluation (see ``learn_overlap.py``). Prints one JSON line per run and a summary with each
variant's median and its ratio to the first variant.

    python benchmarks/learn_speed_variants.py --env gym:MiniGrid-MultiRoom-N2-S4-v0 \
        --variant defaults= --variant spi0.5=loop.samples_per_insert=0.5 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_overlap import one_run  # noqa: E402


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=K=V,K=V`` -> (NAME, [K=V, K=V])."""
    name, _, rest = text.partition("=")
    return name, [p for p in rest.split(",") if p]


def main() -> None:
    """Alternate the variants for ``--rounds`` rounds; print JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="gym:MiniGrid-MultiRoom-N2-S4-v0")
    parser.add_argument("--bundle", default="agent57")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--skip", type=int, default=4_000, help="env steps left out at the start")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", required=True, help="NAME=K=V,K=V")
    args = parser.parse_args()
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    variants = [parse_variant(v) for v in args.variant]
    rates: dict[str, list[int]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix="learn_speed_") as tmp:
        root = Path(tmp)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        folder = root / "agent"
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        install(folder, [args.bundle, args.env], [])
        for _ in range(args.rounds):
            for name, overrides in variants:
                record = one_run(folder, args.steps, args.skip, True, overrides)
                record.pop("overlap")
                rates[name].append(record["env_steps_per_s"])
                line = {"env": args.env, "bundle": args.bundle, "variant": name, **record}
                print(json.dumps({**line, "overrides": overrides}), flush=True)
    first = statistics.median(rates[variants[0][0]])
    summary = {
        "env": args.env,
        "bundle": args.bundle,
        "rounds": args.rounds,
        "medians": {name: statistics.median(r) for name, r in rates.items()},
        "ratios": {name: round(statistics.median(r) / first, 2) for name, r in rates.items()},
        "load_average": os.getloadavg()[0],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
