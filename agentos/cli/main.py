"""The ``agentos`` command line: one module per command, heavy imports inside commands.

Errors a user can fix (``AgentOSError``) print as one message and exit 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys

import typer

from agentos.cli import (
    bench_cmd,
    init_cmd,
    install_cmd,
    learn_cmd,
    rerun_cmd,
    run_cmd,
    runs_cmd,
    show_cmd,
    ui_cmd,
)

app = typer.Typer(
    name="agentos",
    help="Build RL agents from components; train, run, track, share and benchmark them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks and debug logs."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show info logs."),
) -> None:
    """agentos: components, registry, tracked runs, benchmarks."""
    _state["debug"] = debug
    level = logging.DEBUG if debug else (logging.INFO if verbose else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


app.command("init")(init_cmd.init)
app.command("install")(install_cmd.install)
app.command("uninstall")(install_cmd.uninstall)
app.command("list")(install_cmd.list_components)
app.command("show")(show_cmd.show)
app.command("learn")(learn_cmd.learn)
app.command("run")(run_cmd.run)
app.add_typer(runs_cmd.app, name="runs")
app.command("rerun")(rerun_cmd.rerun)
app.command("ui")(ui_cmd.ui)
app.command("bench")(bench_cmd.bench)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentos`` script; returns the exit code."""
    import click

    from agentos.errors import AgentOSError

    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, standalone_mode=False, prog_name="agentos")
        code = result if isinstance(result, int) else 0
    except AgentOSError as e:
        if _state["debug"] or "--debug" in args:
            raise
        from agentos.cli.console import err_console, escape

        err_console.print(f"[bold red]Error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        code = e.exit_code
    except click.exceptions.Abort:
        code = 130
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.exceptions.Exit as e:
        code = e.exit_code
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
