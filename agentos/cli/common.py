"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import typer

AgentOption = typer.Option(
    Path("."), "--agent", "-a", help="The agent folder (holding agentos.yaml).", show_default=True
)
ParamOption = typer.Option(
    None, "--param", "-p", help="Override a parameter: -p learner.learning_rate=3e-4 (repeatable)."
)
SeedOption = typer.Option(
    0, "--seed", "-s", min=0, help="Seed (>= 0) for environments, networks and sampling."
)
