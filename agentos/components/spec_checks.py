"""Checks of single values in ``agentos.yaml`` (component names, roles, text keys, defaults
slots), each refusing bad input with a ``SpecError`` that names the key and the fix."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentos.components.roles import ROLES
from agentos.errors import SpecError

COMPONENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
"""What ``-p NAME.PARAM`` and ``${NAME.PARAM}`` can reach: no dots, spaces, ``=``, ``$``."""


def unknown_key_error(key: str, known: tuple[str, ...], where: str, path: Path) -> SpecError:
    """The error for an unknown key at ``where``, with the closest known key as the fix."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
    return SpecError(f"unknown key '{key}' at {where}", where=str(path), fix=hint)


def check_component_name(name: str, path: Path) -> None:
    """Refuse a component name that ``-p NAME.PARAM`` and ``${NAME.PARAM}`` cannot reach (a
    dot, a space, ``=``, ``$``, braces), and ``loop``, which is the loop section's name."""
    if name == "loop":
        raise SpecError(
            "a component cannot be named 'loop': -p loop.PARAM and ${loop.PARAM} name the "
            "loop section",
            where=f"{path}: components.loop",
            fix="rename the component (e.g. loop_component) and the depends: that name it",
        )
    if COMPONENT_NAME.match(name):
        return
    suggestion = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_") or "my_component"
    reason = (
        f"-p {name}.PARAM and ${{{name}.PARAM}} split at its dots"
        if "." in name
        else "it may hold only ASCII letters, digits, '_' and '-' (the names -p NAME.PARAM "
        "and ${NAME.PARAM} can reach)"
    )
    raise SpecError(
        f"component name {name!r} cannot be used: {reason}",
        where=f"{path}: components.{name}",
        fix=f"rename it to {suggestion} (letters, digits, '_' and '-'), and the depends: "
        "that name it",
    )


def check_default_slots(
    defaults: Mapping[str, Any], components: Mapping[str, Any], path: Path
) -> None:
    """Refuse a ``defaults:`` slot that is no component of the spec, unless it is a role a
    bundle sets defaults for before that component is installed (``environment``...)."""
    for slot in defaults:
        if slot in components or slot == "loop":
            continue
        if slot in ROLES:
            continue
        close = difflib.get_close_matches(slot, list(components), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SpecError(
            f"the spec has no component '{slot}' (its components: "
            f"{', '.join(components) or 'none'})",
            where=f"{path}: defaults.{slot}",
            fix=f"{hint}name one of the spec's components, or remove defaults.{slot}",
        )


def check_role(role: str | None, where: str, path: Path) -> None:
    """Refuse a ``role:`` that is none of the roles (the graph checks it against the class)."""
    if role is None or role in ROLES:
        return
    close = difflib.get_close_matches(role, ROLES, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise SpecError(
        f"unknown role '{role}'",
        where=f"{path}: {where}.role",
        fix=f"{hint}write one of {', '.join(ROLES)} (the role of the component's class), or "
        "remove the `role:` line (the class decides the role)",
    )


TEXT_KEYS = ("module", "class", "registry_name", "version", "hash", "url", "commit", "role")


def check_texts(entry: Mapping, where: str, path: Path) -> None:
    """Refuse a component key that must be a text but is a number, list or mapping (a
    ``hash: 5`` would otherwise fail deep inside the hash check)."""
    for key in TEXT_KEYS:
        value = entry.get(key)
        if value is None or isinstance(value, str):
            continue
        if key == "version" and isinstance(value, (int, float)) and not isinstance(value, bool):
            continue  # `version: 1.0` is read by YAML as a number
        raise SpecError(
            f"'{key}' must be a text, got {value!r} ({type(value).__name__})",
            where=f"{path}: {where}.{key}",
            fix=f'quote it ({key}: "..."), or reinstall the component with '
            "`agentos install NAME` to write it again",
        )
