"""Checks across all of a spec's components that their files are the ones installed.

Each component's own check (``sources.verify``) runs as it is loaded; this module looks at
them together first, so that an upgrade that changed several builtin components is reported
once, with one command, instead of one component per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agentos.components.sources import _LOCAL_HINT, component_files, content_hash
from agentos.components.spec import ComponentSpec
from agentos.errors import IntegrityError


def verify_builtins(
    components: Mapping[str, ComponentSpec], agent_dir: Path, spec_file: Path
) -> None:
    """Raise one IntegrityError naming every builtin component whose files changed since
    install (after an agentos upgrade usually several do), with one command that reinstalls
    them all; a single changed one is left to ``verify``'s detailed message."""
    changed = [
        cspec.registry_name or cspec.name
        for cspec in components.values()
        if cspec.source == "builtin"
        and cspec.hash
        and content_hash(component_files(cspec, agent_dir)) != cspec.hash
    ]
    if len(changed) > 1:
        names = " ".join(changed)
        raise IntegrityError(
            f"the files of {len(changed)} builtin components changed since they were "
            f"installed (agentos was upgraded or edited): {', '.join(changed)}",
            where=str(spec_file),
            fix=f"reinstall them to accept the new files: `agentos install {names}`; "
            + _LOCAL_HINT,
        )
