"""`agentos rerun`: reproduce a tracked run from its stored spec, parameters and seed."""

from __future__ import annotations

from pathlib import Path

import typer

from agentos.cli.common import AgentOption


def rerun(
    run_id: str = typer.Argument(..., help="The run to reproduce (id or unique prefix)."),
    force: bool = typer.Option(
        False, "--force", help="Rerun even if component files changed since the run."
    ),
    agent: Path = AgentOption,
) -> int:
    """Re-execute a run with the same spec, overrides, seed and steps; compare the returns."""
    from agentos.api import Agent, spec_from_text
    from agentos.cli.console import console
    from agentos.tracking.rerun import rerun_run

    def load_agent(spec_text: str, folder: Path, overrides: list[str]) -> Agent:
        return Agent(spec_from_text(spec_text, folder), overrides)

    report = rerun_run(agent.resolve(), run_id, force=force, load_agent=load_agent)
    console.print(
        f"rerun {report.new_run_id[:8]} of {report.original_run_id[:8]}: "
        f"{report.compared} {report.new_returns}"
    )
    if not report.original_returns:
        console.print(
            f"[yellow]Nothing to compare[/]: the original logged no {report.compared} (it "
            "ended before its first log point; a longer run logs some)"
        )
        return 1
    if report.identical:
        console.print(f"[green]Reproduced exactly[/]: {report.compared} is identical.")
        return 0
    console.print(f"[red]Differs[/] from the original {report.original_returns}")
    return 1
