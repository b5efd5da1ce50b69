"""Exploration: Agent57 against R2D2 on sparse-reward tasks, as JSON lines.

For each (variant, seed): a fresh agent folder (``agentos init`` + ``install BUNDLE ENV``),
``agentos.load_agent(folder, overrides).learn(steps, seed=seed)`` and one JSON line
``{variant, env, seed, steps, best_success, final_success, first_success_step, wall_s,
evals}``. The success of an evaluation is the share of its episodes with a positive return:
the permuted chain pays 1 at its end and 0 otherwise; MiniGrid pays 1 - 0.9 * steps / max
steps on reaching the goal and 0 otherwise. Variants: ``agent57`` (the bundle's defaults),
``r2d2`` (Agent57 with ``network.beta_max=0``: the same networks, replay, learner and budget,
but a behaviour that ignores the intrinsic values) and ``r2d2_bundle`` (the ``r2d2`` bundle).
With ``--out FILE`` every evaluation is appended to FILE as it happens, so a run that is
stopped keeps what it measured.

    python benchmarks/agent57_exploration.py --seeds 0 1 2 --steps 100000
    python benchmarks/agent57_exploration.py --env gym:MiniGrid-DoorKey-5x5-v0 \
        --variants agent57 r2d2_bundle --steps 500000 --eval-every 25000 --out doorkey.jsonl
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

VARIANTS = {
    "agent57": ("agent57", []),
    "r2d2": ("agent57", ["network.beta_max=0.0"]),
    "r2d2_bundle": ("r2d2", []),
}
"""{variant: (bundle, overrides)}."""
DEFAULTS = ["loop.eval_episodes=16"]
"""The benchmark's loop settings (overridable with -p); everything else is the bundle's,
checkpoints included, so that the speed is what `agentos learn` does."""
CHAIN = ["environment.length=40", "environment.num_envs=16"]
"""The permuted chain's length and copies in the README's proof."""


def train(
    variant: str,
    seed: int,
    steps: int,
    eval_every: int,
    extra: list[str],
    root: Path,
    stop_at: float | None = None,
    env: str = "permuted_chain",
    out: Path | None = None,
):
    """One learning run (ended early once an evaluation reaches ``stop_at``, if given);
    returns its JSON record."""
    import agentos
    from agentos.runtime.loop import Hooks

    class StopAt(Hooks):
        reached = False

        def on_metrics(self, metrics: dict, step: int) -> None:
            if out is not None:  # training metrics too: they show why a run fails
                line = {"variant": variant, "env": env, "seed": seed, "step": step, **metrics}
                with out.open("a") as f:
                    f.write(json.dumps(line) + "\n")
            if stop_at is not None and metrics.get("eval/return_mean", -1.0) >= stop_at:
                StopAt.reached = True

        def should_stop(self) -> bool:
            return StopAt.reached

    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    folder = root / f"{variant}_{env.replace(':', '_').replace('/', '_')}_seed{seed}"
    with contextlib.redirect_stdout(sys.stderr):
        init(folder, None, False)
    bundle, variant_overrides = VARIANTS[variant]
    install(folder, [bundle, env], [])
    chain = CHAIN if env == "permuted_chain" else []
    overrides = [*DEFAULTS, *chain, f"loop.eval_every={eval_every}", *variant_overrides, *extra]
    agent = agentos.load_agent(folder, overrides)
    start = time.perf_counter()
    result = agent.learn(steps, seed=seed, hooks=StopAt())
    wall = time.perf_counter() - start
    evals = [
        (int(e["env_steps"]), float(sum(r > 0 for r in e["returns"]) / len(e["returns"])))
        for e in result.eval_history
    ]
    first = next((s for s, v in evals if v >= 0.9), None)
    return {
        "variant": variant,
        "env": env,
        "seed": seed,
        "steps": result.env_steps,
        "best_success": max(v for _, v in evals),
        "final_success": evals[-1][1],
        "first_success_step": first,
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(result.env_steps / wall, 1),
        "learner_updates": result.learner_updates,
        "evals": evals,
        "overrides": overrides,
    }


def main() -> None:
    """Parse arguments, run every (variant, seed), print one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants", nargs="+", choices=sorted(VARIANTS), default=["agent57", "r2d2"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument(
        "--stop-at", type=float, default=None, help="end a run once an evaluation reaches this"
    )
    parser.add_argument("-p", "--param", action="append", default=[], help="COMPONENT.KEY=VALUE")
    parser.add_argument("--env", default="permuted_chain", help="registry name or gym:<id>")
    parser.add_argument("--out", type=Path, default=None, help="append every evaluation here")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="make the agent folders (checkpoints, runs) here and keep them; default: a temp dir",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agent57_explore_")))
        else:
            root = args.keep.resolve()
            root.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        for variant in args.variants:
            for seed in args.seeds:
                record = train(
                    variant, seed, args.steps, args.eval_every, args.param, root,
                    args.stop_at, args.env, args.out,
                )  # fmt: skip
                print(json.dumps(record), flush=True)
                if args.out is not None:
                    with args.out.open("a") as f:
                        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
