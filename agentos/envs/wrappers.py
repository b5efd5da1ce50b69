"""Wrappers named in the spec (``environment.params.wrappers``), applied to every copy.

Each entry is a wrapper name, or a mapping ``{wrapper: NAME, kwargs: {...}}``. A name is

* a class of ``gymnasium.wrappers`` (``FlattenObservation``, ``TimeAwareObservation``);
* an import path ``package.module.Class`` (``minigrid.wrappers.ImgObsWrapper``);
* ``file.py:Class``: a class in a file of the agent folder (your own wrapper).

Wrappers are applied in the listed order, after the automatic preprocessing of Atari and
before the default handling of non-Box observations (see ``agentos.envs.make``).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentos.errors import AgentOSError

WHERE = "environment.params.wrappers"


@dataclass(frozen=True)
class WrapperSpec:
    """One wrapper of the list: its name as written and its keyword arguments."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The entry as tracked with the run."""
        return {"wrapper": self.name, "kwargs": dict(self.kwargs)}


def parse_wrappers(entries: Any) -> tuple[WrapperSpec, ...]:
    """The spec's ``wrappers`` list as WrapperSpecs; a malformed entry is an error."""
    if entries is None:
        return ()
    if isinstance(entries, (str, dict)) or not isinstance(entries, (list, tuple)):
        entries = [entries]
    out = []
    for i, entry in enumerate(entries):
        where = f"{WHERE}[{i}]"
        if isinstance(entry, WrapperSpec):
            out.append(entry)
        elif isinstance(entry, str) and entry.strip():
            out.append(WrapperSpec(entry.strip()))
        elif isinstance(entry, dict) and set(entry) <= {"wrapper", "kwargs"} and "wrapper" in entry:
            kwargs = entry.get("kwargs") or {}
            if not isinstance(entry["wrapper"], str) or not isinstance(kwargs, dict):
                raise AgentOSError(
                    f"{where}: 'wrapper' must be a name and 'kwargs' a mapping, got {entry!r}",
                    fix="write e.g. {wrapper: TimeLimit, kwargs: {max_episode_steps: 200}}",
                )
            out.append(WrapperSpec(entry["wrapper"], dict(kwargs)))
        else:
            raise AgentOSError(
                f"{where}: expected a wrapper name or {{wrapper: NAME, kwargs: {{...}}}}, "
                f"got {entry!r}",
                fix="write e.g. FlattenObservation, or {wrapper: TimeLimit, kwargs: "
                "{max_episode_steps: 200}}",
            )
    return tuple(out)


def resolve_wrapper(name: str, agent_dir: Path | None) -> type:
    """The wrapper class that ``name`` names (see module docstring)."""
    import gymnasium
    import gymnasium.wrappers

    if ":" in name:
        file, _, cls_name = name.partition(":")
        base = Path(agent_dir or ".")
        path = (base / file).resolve()
        if not path.is_file():
            raise AgentOSError(
                f"wrapper file '{file}' not found in {base}",
                fix="give a .py file of the agent folder as file.py:Class",
            )
        module = _import_path(path, path.stat().st_mtime_ns)
        found = getattr(module, cls_name, None)
        where = str(path)
    elif "." in name:
        module_name, _, cls_name = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise AgentOSError(
                f"wrapper '{name}': cannot import {module_name} ({e})",
                fix="install the package that provides it, or correct the name",
            ) from None
        found = getattr(module, cls_name, None)
        where = module_name
    else:
        found = getattr(gymnasium.wrappers, name, None)
        where = "gymnasium.wrappers"
        cls_name = name
    if not (isinstance(found, type) and issubclass(found, gymnasium.Wrapper)):
        known = [n for n in dir(gymnasium.wrappers) if not n.startswith("_")]
        close = difflib.get_close_matches(cls_name, known, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise AgentOSError(
            f"unknown wrapper '{name}': {where} has no gymnasium.Wrapper class '{cls_name}'",
            fix=f"{hint}use a class of gymnasium.wrappers, package.module.Class or file.py:Class",
        )
    return found


def apply_wrappers(env: Any, specs: tuple[WrapperSpec, ...], agent_dir: Path | None) -> Any:
    """``env`` wrapped by each of ``specs`` in order; bad kwargs name the wrapper."""
    for i, spec in enumerate(specs):
        cls = resolve_wrapper(spec.name, agent_dir)
        try:
            inspect.signature(cls).bind(env, **spec.kwargs)
        except TypeError as e:
            raise AgentOSError(
                f"{WHERE}[{i}] ({spec.name}): bad kwargs {spec.kwargs}: {e}",
                fix=f"the arguments it takes: {cls.__name__}{inspect.signature(cls)}",
            ) from None
        try:
            env = cls(env, **spec.kwargs)
        except Exception as e:  # the wrapper's own checks (a wrong space, a bad value)
            raise AgentOSError(
                f"{WHERE}[{i}] ({spec.name}) failed on {env}: {type(e).__name__}: {e}",
                fix="check the wrapper's kwargs and the order of the list",
            ) from None
    return env


@functools.lru_cache(maxsize=32)
def _import_path(path: Path, mtime_ns: int) -> Any:
    """A .py file of the agent folder imported once per process and version of the file."""
    from agentos.components.sources import import_file

    return import_file(path, "local")
