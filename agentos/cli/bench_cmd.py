"""`agentos bench`: "I changed something: does my agent still work?"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentos.cli.common import AgentOption, ParamOption


def bench(
    suite: str = typer.Argument("smoke", help="Suite name: builtin (smoke, cartpole) or bench:"),
    save_baseline: bool = typer.Option(
        False, "--save-baseline", help="Store these figures as the suite's baseline."
    ),
    param: list[str] = ParamOption,
    agent: Path = AgentOption,
) -> int:
    """Run a suite (envs x seeds x steps), compare with the baseline, print verdicts.

    Exit code 1 if any entry regressed.
    """
    from rich.table import Table

    from agentos.bench.runner import judge, load_baseline, run_suite
    from agentos.bench.runner import save_baseline as store
    from agentos.bench.suites import get_suite
    from agentos.cli.console import console, number
    from agentos.components.spec import load_spec

    spec = load_spec(agent)
    chosen = get_suite(suite, spec.bench, str(spec.path))
    console.print(
        f"suite [bold]{suite}[/]: envs {list(chosen.envs)} x seeds {list(chosen.seeds)}, "
        f"{chosen.steps:,} steps each"
    )

    # A damaged baseline is found before the training, not after it (--save-baseline
    # replaces it).
    baseline = _old_baseline(load_baseline, spec.agent_dir, suite, save_baseline)

    def report(env: str, seed: int, ret: float) -> None:
        console.print(f"  {env} seed {seed}: final evaluation mean return {number(ret, 2)}")

    results = run_suite(spec.agent_dir, suite, chosen, list(param or []), report)
    verdicts = judge(results, baseline, chosen.tolerance)
    table = Table(title=f"bench {suite}")
    for col in ("env", "returns per seed", "mean", "baseline", "threshold", "verdict"):
        table.add_column(col)
    for r, v in zip(results, verdicts, strict=True):
        colour = {"pass": "green", "regressed": "red"}.get(v.label, "yellow")
        table.add_row(
            r.env,
            ", ".join(f"{s}: {x:.1f}" for s, x in r.returns.items()),
            f"{v.current:.2f}",
            "-" if v.baseline is None else f"{v.baseline:.2f}",
            "-" if v.threshold is None else f">= {v.threshold:.2f}",
            f"[{colour}]{v.label}[/]",
        )
    console.print(table)
    from agentos.bench.runner import load_baseline_runs
    from agentos.viz.runs import plot_bench

    current = {r.env: list(r.run_ids.values()) for r in results}
    before = _old_baseline(load_baseline_runs, spec.agent_dir, suite, save_baseline)
    figure = plot_bench(spec.agent_dir, suite, current, before)
    console.print(f"curves (baseline vs now): {figure}")
    if save_baseline:
        path = store(spec.agent_dir, suite, chosen, results)
        console.print(f"baseline saved to {path}")
        return 0
    if baseline is None:
        console.print(f"no baseline yet: store one with `agentos bench {suite} --save-baseline`")
    return 1 if any(not v.passed for v in verdicts) else 0


def _old_baseline(load: Any, agent_dir: Path, suite: str, replacing: bool) -> Any:
    """The stored baseline as ``load`` reads it; a damaged one is an error unless it is
    about to be replaced."""
    from agentos.errors import AgentOSError

    try:
        return load(agent_dir, suite)
    except AgentOSError:
        if replacing:
            return None
        raise
