"""Options shared by several commands."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

AgentOption = typer.Option(
    Path("."), "--agent", "-a", help="The agent folder (holding agentos.yaml).", show_default=True
)
ParamOption = typer.Option(
    None, "--param", "-p", help="Override a parameter: -p learner.learning_rate=3e-4 (repeatable)."
)
_SUFFIXES = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
MAX_COUNT = 2**63 - 1


def count_parser(minimum: int) -> Any:
    """A typer ``parser`` for a count (steps, episodes) written as people write them:
    ``50000``, ``50_000``, ``5e4``, ``50k``, ``1M``; whole numbers >= ``minimum`` only."""

    def parse(text: str | int) -> int:
        if isinstance(text, int):  # the option's default
            return text
        raw = text.strip().replace("_", "").lower()
        scale = _SUFFIXES.get(raw[-1:], 1)
        number = raw[:-1] if scale > 1 else raw
        try:
            value = int(number) * scale  # exact for long integers
        except ValueError:
            try:
                as_float = float(number) * scale
            except ValueError:
                raise typer.BadParameter(
                    f"{text!r} is not an integer count: write it like 50000, 50_000, 5e4, 50k or 1M"
                ) from None
            if not math.isfinite(as_float):
                raise typer.BadParameter(f"{text!r} is too large or not a number") from None
            if not as_float.is_integer():
                raise typer.BadParameter(f"{text!r} is not a whole number") from None
            value = int(as_float)
        if not minimum <= value <= MAX_COUNT:
            raise typer.BadParameter(
                f"{text!r} must be greater than or equal to {minimum} (and at most 2**63 - 1)"
            )
        return value

    return parse


SeedOption = typer.Option(
    0, "--seed", "-s", min=0, help="Seed (>= 0) for environments, networks and sampling."
)
