"""R2D2 on CartPole-v1 in the Ray layout with one worker killed: the evaluations of each seed.

What ``tests/runtime/test_ray_learning_slow.py`` asserts, measured over several seeds and
settings: the r2d2 bundle, ``--actors 2`` of 8 copies each, one environment worker SIGKILLed
at ``--kill-at`` env steps (0: none) by the test's own hook, greedy evaluations (10 episodes)
every ``--eval-every`` steps. Prints one JSON line per seed (the peak, where it was first
reached, every evaluation). The layout is not repeatable, so repeat a seed with ``--repeat``.

    python benchmarks/ray_cartpole_restart.py --seeds 0 1 2 [--steps 100000]
        [--eval-every 10000] [--kill-at 30000] [--repeat 1] [--actors 2] [--num-envs 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from filled_replay import installed_agent  # noqa: E402


def kill_hook_class() -> type:
    """The slow test's hook that SIGKILLs one environment worker (one copy of the code)."""
    path = ROOT / "tests" / "runtime" / "test_ray_learning_slow.py"
    spec = importlib.util.spec_from_file_location("ray_learning_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._KillOneWorker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--kill-at", type=int, default=30_000, help="0: kill no worker")
    parser.add_argument("--actors", type=int, default=2, help="0: one process, no Ray")
    parser.add_argument("--num-envs", type=int, default=8, help="copies per process")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each seed")
    args = parser.parse_args()
    import agentos
    from agentos.tracking.store import get_run, metric_history

    kill_hook = kill_hook_class()
    for seed in args.seeds:
        for _ in range(args.repeat):
            with installed_agent(["r2d2", "cartpole"]) as folder:
                hooks = kill_hook(args.kill_at if args.kill_at > 0 else 2**62)
                agent = agentos.load_agent(
                    folder,
                    [
                        f"environment.num_envs={args.num_envs}",
                        f"loop.eval_every={args.eval_every}",
                        "loop.checkpoint_every=0",
                    ],
                )
                start = time.perf_counter()
                layout = {"actors": args.actors} if args.actors > 0 else {}
                result = agent.learn(args.steps, seed=seed, hooks=hooks, **layout)
                wall = time.perf_counter() - start
                evals = metric_history(folder, result.run_id, "eval/return_mean")
                best = max(v for _, v in evals)
                tags = get_run(folder, result.run_id).tags
                print(
                    json.dumps(
                        {
                            "benchmark": "ray_cartpole_restart",
                            "seed": seed,
                            "actors": args.actors,
                            "num_envs": args.num_envs,
                            "steps": args.steps,
                            "eval_every": args.eval_every,
                            "kill_at": args.kill_at,
                            "killed": hooks.killed is not None,
                            "restarts": int(tags.get("agentos.actor_restarts", 0)),
                            "best_eval_mean": best,
                            "first_best_at": next(s for s, v in evals if v == best),
                            "wall_s": round(wall, 1),
                            "evals": [[s, v] for s, v in evals],
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
