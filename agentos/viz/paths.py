"""The check every output path (``--trace``, ``plot -o``, ``show --graph``) gets before any
work: the folders it would be written in must be folders (missing ones are created)."""

from __future__ import annotations

from pathlib import Path

from agentos.errors import AgentOSError


def check_parent_folders(path: Path, option: str) -> None:
    """Refuse ``path`` when one of its parents exists as a file (``afile/plot.png``): the
    write would fail after the work, with an OSError."""
    for parent in Path(path).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise AgentOSError(
                    f"{option} {path}: {parent} is a file, not a folder",
                    fix="name a path whose folders are folders (missing ones are created)",
                )
            return
