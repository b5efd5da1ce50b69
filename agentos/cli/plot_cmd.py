"""``agentos plot``: learning curves of tracked runs as a PNG (mean and 95% band over seeds)."""

from __future__ import annotations

from pathlib import Path

import typer

from agentos.cli.common import AgentOption


def plot(
    runs: list[str] = typer.Argument(None, help="Run ids or prefixes (default: every learn run)."),
    metric: list[str] = typer.Option(
        ["eval/return_mean"],
        "--metric",
        "-m",
        help="Metric to draw; repeat or use a pattern (-m 'train/arm_*') for several.",
    ),
    by: str = typer.Option(
        "env", "--by", help="Group runs by env, seed, run or tag:NAME; a group is one curve."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="PNG file (default plots/<metric>.png)."),
    agent: Path = AgentOption,
) -> int:
    """Draw learning curves against env steps; several seeds as mean and 95% bootstrap band."""
    from agentos.cli.console import console, escape
    from agentos.viz.runs import plot_runs

    path, curves = plot_runs(agent.resolve(), list(runs or []), metric=metric, by=by, out=out)
    for c in curves:
        last = f"{c.mean[-1]:.2f}" if len(c.mean) else "—"
        console.print(f"  {escape(c.label)}: {len(c.runs)} run(s), last mean {last}")
    console.print(f"[green]Wrote[/] {escape(str(path))} (data: {escape(str(path))}.json)")
    return 0
