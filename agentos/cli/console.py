"""Shared rich consoles for CLI output (stdout for results, stderr for errors)."""

from __future__ import annotations

from rich.console import Console

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)


def escape(text: str) -> str:
    """Escape rich markup in user-provided text."""
    from rich.markup import escape as _escape

    return _escape(text)


def number(value: float | None, digits: int = 1) -> str:
    """``value`` rounded to ``digits`` decimals, never shown as ``-0.0`` ("-" for None)."""
    if value is None:
        return "-"
    return f"{round(float(value), digits) + 0.0:.{digits}f}"
