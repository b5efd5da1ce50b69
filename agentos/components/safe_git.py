"""git without the repository's own programs: every git command agentos runs gets options
that switch off what a repository's config could make git execute (``core.fsmonitor``,
hooks, the ``ext::`` transport)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SAFE_GIT_CONFIG = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "advice.detachedHead=false",
)
"""Options for every git command: a repository's own config can name programs for git to run
(``core.fsmonitor``, hooks); none of them run for agentos."""


def git_command(args: list[str]) -> list[str]:
    """``git`` with ``SAFE_GIT_CONFIG`` and ``args``."""
    return ["git", *SAFE_GIT_CONFIG, *args]


def git_env() -> dict[str, str]:
    """The environment for git: no prompts, no askpass program."""
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}


def run_git(
    args: list[str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` of a safe git command (text output captured, never raises on exit)."""
    return subprocess.run(
        git_command(args),
        cwd=cwd,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
