"""``agentos runs``: the table of tracked runs; ``agentos runs show ID``: one run in full."""

from __future__ import annotations

from pathlib import Path

import typer

from agentos.cli.common import AgentOption
from agentos.cli.console import console, escape

app = typer.Typer(
    help="List the agent's tracked runs (newest first), or show one with `runs show ID`.",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
)

STATUS_STYLE = {
    "RUNNING": "yellow",
    "FINISHED": "green",
    "FAILED": "red",
    "KILLED": "magenta",
    "SCHEDULED": "dim",
}
NO_RUNS = "No runs yet — try `agentos learn`."


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status, "white")
    return f"[{style}]{status}[/]"


def _steps(steps: int | None) -> str:
    return "—" if steps is None else f"{steps:,}"


def _return(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@app.callback()
def runs(
    ctx: typer.Context,
    agent: Path = AgentOption,
    limit: int = typer.Option(
        50, "--limit", "-n", min=1, help="Show at most this many runs (>= 1)."
    ),
) -> None:
    """List the agent's tracked runs, newest first."""
    ctx.obj = {"agent": agent}
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table
    from rich.text import Text

    from agentos.components.spec import load_spec
    from agentos.tracking.store import list_runs, mark_stale_runs

    spec = load_spec(agent)
    # A run left RUNNING by a process that is gone (kill -9) is recorded KILLED, not only shown.
    mark_stale_runs(spec.agent_dir, agent_name=spec.name)
    rows = list_runs(spec.agent_dir, max_results=limit, agent_name=spec.name)
    if not rows:
        console.print(NO_RUNS, markup=False)
        return
    cells = [
        (
            r.run_id[:8],
            escape(r.kind),
            escape(r.agent),
            escape(r.env),
            _steps(r.steps),
            _return(r.eval_return),
            _status(r.status),
            r.start_time.strftime("%Y-%m-%d %H:%M"),
        )
        for r in rows
    ]
    # Ids, numbers, statuses and dates are never cut; names shrink when the terminal is narrow.
    keep = {0: 8, 4: 5, 5: 6, 6: 8, 7: 16}
    for col in keep:
        keep[col] = max([keep[col]] + [len(Text.from_markup(c[col])) for c in cells])
    table = Table(
        title=f"Runs of {escape(spec.name)}",
        title_justify="left",
        box=None,
        padding=(0, 1),
        pad_edge=False,
        header_style="bold underline",
    )
    for i, (name, justify) in enumerate(
        [
            ("id", "left"),
            ("kind", "left"),
            ("agent", "left"),
            ("env", "left"),
            ("steps", "right"),
            ("return", "right"),
            ("status", "left"),
            ("date", "left"),
        ]
    ):
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=i in keep,
            overflow="ellipsis",
            min_width=keep.get(i),
            style="cyan" if i == 0 else None,
        )
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _kv_table(title: str, items: dict[str, str]) -> object:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key in sorted(items):
        table.add_row(escape(key), escape(items[key]))
    return table


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="Run id, or a unique prefix of 6+ characters."),
    agent: Path | None = typer.Option(
        None, "--agent", "-a", help="The agent folder (holding agentos.yaml).", show_default="."
    ),
) -> None:
    """Show one run: status, params, latest metrics, tags and artifacts."""
    from agentos.components.spec import load_spec
    from agentos.tracking.store import get_run

    if agent is None:
        agent = (ctx.obj or {}).get("agent", Path("."))
    spec = load_spec(agent)
    d = get_run(spec.agent_dir, run_id, agent_name=spec.name)
    s = d.summary
    status = _status(s.status)
    if s.status != d.recorded_status:
        status += f" (recorded {escape(d.recorded_status)}; its process is gone)"
    console.print(f"[bold]Run[/] {s.run_id}  {status}")
    console.print(
        f"kind {escape(s.kind)} · agent {escape(s.agent)} · env {escape(s.env)} · seed {s.seed}"
        f" · started {s.start_time:%Y-%m-%d %H:%M:%S}"
        + (f" · ended {d.end_time:%Y-%m-%d %H:%M:%S}" if d.end_time else "")
    )
    console.print(f"steps {_steps(s.steps)} · eval return {_return(s.eval_return)}")
    console.print()
    console.print(_kv_table("Params", dict(d.params)) if d.params else "Params: none")
    console.print()
    metrics = {k: f"{v:.6g}" for k, v in d.metrics.items()}
    console.print(_kv_table("Metrics (latest)", metrics) if metrics else "Metrics: none")
    console.print()
    tags = {k: v for k, v in d.tags.items() if not k.startswith("mlflow.")}
    console.print(_kv_table("Tags", tags) if tags else "Tags: none")
    console.print()
    console.print(f"[bold]Artifacts[/] ({escape(d.artifact_uri)})")
    for path in d.artifacts:
        console.print(f"  {escape(path)}", highlight=False)
    if not d.artifacts:
        console.print("  none")
