"""The ``agentos`` command line: one module per command, heavy imports inside commands.

Errors a user can fix (``AgentOSError``) print as one message and exit 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from agentos.cli import (
    bench_cmd,
    init_cmd,
    install_cmd,
    learn_cmd,
    plot_cmd,
    record_cmd,
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
    if not (debug or verbose):
        # MLflow logs INFO lines of its own ("Creating initial MLflow database tables...")
        # to stderr, configured when it is imported: keep them out of error messages.
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    # A tracking server that is down: say so in seconds, not after MLflow's 7 retries with
    # exponential backoff (4 minutes). The environment can still ask for more.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


app.command("init")(init_cmd.init)
app.command("install")(install_cmd.install)
app.command("uninstall")(install_cmd.uninstall)
app.command("list")(install_cmd.list_components)
app.command("show")(show_cmd.show)
app.command("learn")(learn_cmd.learn)
app.command("record")(record_cmd.record)
app.command("run")(run_cmd.run)
app.add_typer(runs_cmd.app, name="runs")
app.command("rerun")(rerun_cmd.rerun)
app.command("ui")(ui_cmd.ui)
app.command("bench")(bench_cmd.bench)
app.command("plot")(plot_cmd.plot)


def _usage_exceptions() -> tuple[tuple[type, ...], tuple[type, ...], tuple[type, ...]]:
    """(usage/click errors, aborts, exits) as typer really raises them.

    typer >= 0.20 vendors click (``typer._click``) and raises its exception classes, which are
    not ``click``'s; older typer raises ``click``'s own. Both are caught.
    """
    errors: list[type] = []
    aborts: list[type] = []
    exits: list[type] = []
    try:
        from typer import exceptions as typer_exceptions
        from typer._click import exceptions as vendored

        errors.append(vendored.ClickException)
        aborts.append(typer_exceptions.Abort)
        exits.append(typer_exceptions.Exit)
        for name, bucket in (("Abort", aborts), ("Exit", exits)):
            extra = getattr(vendored, name, None)
            if isinstance(extra, type):
                bucket.append(extra)
    except ImportError:  # typer without a vendored click
        pass
    try:
        import click

        errors.append(click.ClickException)
        aborts.append(click.exceptions.Abort)
        exits.append(click.exceptions.Exit)
    except ImportError:
        pass
    return tuple(errors), tuple(aborts), tuple(exits)


def _show_usage_error(e: Exception) -> int:
    """Print a usage error as one ``Error:`` line (plus typer's usage hint) and a Fix line."""
    from agentos.cli.console import err_console, escape

    code = int(getattr(e, "exit_code", 2) or 2)
    if code == 1:
        code = 2  # every command-line mistake exits 2, as the README promises
    ctx = getattr(e, "ctx", None)
    message = e.format_message() if hasattr(e, "format_message") else str(e)
    if type(e).__name__ == "NoArgsIsHelpError":
        err_console.print(escape(message), highlight=False, soft_wrap=True)
        return code
    command = ctx.command_path if ctx is not None else "agentos"
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    alias = COMMAND_ALIASES.get(_unknown_command(message))
    fix = (
        f"use `agentos {alias}` (see `agentos --help`)"
        if alias
        else f"see `{escape(command)} --help` for its usage."
    )
    err_console.print(f"Fix: {fix}", highlight=False, soft_wrap=True)
    return code


COMMAND_ALIASES = {
    "train": "learn",
    "fit": "learn",
    "eval": "run",
    "evaluate": "run",
    "test": "run",
    "play": "run",
    "enjoy": "run",
    "video": "run --video",
    "record-video": "run --video",
    "resume": "learn --resume",
    "new": "init",
    "add": "install",
    "remove": "uninstall",
}
"""Commands of other RL tools (SB3, RL Zoo, CleanRL) and what agentos calls them."""


def _unknown_command(message: str) -> str:
    """The name in click's "No such command 'NAME'." message ('' for other errors)."""
    prefix = "No such command '"
    if not message.startswith(prefix):
        return ""
    return message[len(prefix) :].split("'", 1)[0]


def _show_error(e: Exception) -> int:
    from agentos.cli.console import err_console, escape

    err_console.print(f"[bold red]Error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    return int(getattr(e, "exit_code", 2))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``agentos`` script; returns the exit code."""
    from agentos.errors import AgentOSError

    usage_errors, aborts, exits = _usage_exceptions()
    args = sys.argv[1:] if argv is None else argv
    try:
        result = app(args=args, standalone_mode=False, prog_name="agentos")
        code = result if isinstance(result, int) else 0
    except AgentOSError as e:
        if _state["debug"] or "--debug" in args:
            raise
        code = _show_error(e)
    except aborts:  # type: ignore[misc]
        code = 130
    except usage_errors as e:  # type: ignore[misc]
        code = _show_usage_error(e)
    except exits as e:  # type: ignore[misc]
        code = e.exit_code
    except Exception as e:
        from agentos.cli.faults import as_user_error

        fault = as_user_error(e)
        if fault is None or _state["debug"] or "--debug" in args:
            raise
        code = _show_error(fault)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
