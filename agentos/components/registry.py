"""The component registry: named components and bundles that ``agentos install`` resolves.

Registries, merged in order (a later one's name shadows an earlier one's):

1. the builtin index shipped in the package, ``agentos/registry/builtin.yaml``;
2. the registries listed in the spec's ``registries:``, then those given with ``--registry``:

   * a YAML file (``path/to/registry.yaml`` or ``file:///abs/registry.yaml``): its ``module``
     values are importable Python modules (installed as ``source: builtin``);
   * a git repository (``git+file:///path/repo``, ``git+https://host/repo.git``, optionally
     ``@rev``; also ``file:///path/repo`` or a local folder that is a git repository) whose root
     holds ``agentos-registry.yaml``: its ``module`` values are ``.py`` paths inside the
     repository, cloned at the resolved commit under ``<agent>/.agentos/sources/``.

The format of a registry file is documented at the top of ``builtin.yaml``. A name of the form
``gym:<id>`` resolves to the registry's ``gym`` template with ``params: {env_id: <id>}``.
Relative registry paths in the spec are relative to the agent folder.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentos.components.registry_entries import BUILTIN as BUILTIN
from agentos.components.registry_entries import Bundle as Bundle
from agentos.components.registry_entries import RegistryEntry as RegistryEntry
from agentos.components.registry_entries import RegistrySource as RegistrySource
from agentos.components.registry_entries import _parse
from agentos.components.registry_locations import REGISTRY_FILENAME as REGISTRY_FILENAME
from agentos.components.registry_locations import Location as Location
from agentos.components.registry_locations import _check_local_repo as _check_local_repo
from agentos.components.registry_locations import _load_yaml as _load_yaml
from agentos.components.registry_locations import normalise as normalise
from agentos.components.registry_locations import parse_location as parse_location
from agentos.errors import RegistryError

logger = logging.getLogger(__name__)

GYM_PREFIX = "gym:"
"""``gym:<id>`` installs any gymnasium environment id."""
LIST_HINT = "run `agentos list` to see what the registries offer"


class Registry:
    """The merged registries: look names up, resolve bundles into their components."""

    def __init__(
        self,
        sources: list[RegistrySource],
        entries: Mapping[str, RegistryEntry],
        bundles: Mapping[str, Bundle],
        gym_template: RegistryEntry | None = None,
        shadowed: Mapping[str, str] | None = None,
    ):
        self.sources = tuple(sources)
        self.shadowed = MappingProxyType(dict(shadowed or {}))
        """{name: the registry whose entry of that name a later registry replaced}."""
        self.entries = MappingProxyType(dict(entries))
        self.bundles = MappingProxyType(dict(bundles))
        self.gym_template = gym_template

    def names(self) -> list[str]:
        """All component and bundle names, in registry order."""
        return [*self.entries, *self.bundles]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self.entries or name in self.bundles or self._is_gym(name)
        )

    def _is_gym(self, name: str) -> bool:
        return name.startswith(GYM_PREFIX) and self.gym_template is not None

    def get(self, name: str) -> RegistryEntry | Bundle:
        """The component or bundle called ``name``; RegistryError with close matches if none."""
        if name.startswith(GYM_PREFIX):
            return self._gym_entry(name)
        if name in self.entries:
            return self.entries[name]
        if name in self.bundles:
            return self.bundles[name]
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        near = f"; close matches: {', '.join(close)}" if close else ""
        where = ", ".join(s.describe() for s in self.sources)
        raise RegistryError(
            f"no component or bundle named '{name}' in the registries ({where}){near}",
            fix=LIST_HINT,
        )

    def _gym_entry(self, name: str) -> RegistryEntry:
        env_id = name[len(GYM_PREFIX) :].strip()
        if self.gym_template is None:
            raise RegistryError(
                f"no registry defines the `gym` template for '{name}'", fix=LIST_HINT
            )
        if not env_id:
            raise RegistryError(
                f"'{name}' names no environment id", fix="e.g. `agentos install gym:Acrobot-v1`"
            )
        t = self.gym_template
        return replace(
            t,
            name=f"{GYM_PREFIX}{env_id}",
            description=f"{env_id} (gymnasium)",
            params=MappingProxyType({**t.params, "env_id": env_id}),
        )

    def resolve(self, name: str) -> tuple[list[RegistryEntry], dict[str, Any]]:
        """The entries ``name`` installs and the loop parameters it sets."""
        found = self.get(name)
        self._warn_shadowed(name, found)
        if isinstance(found, RegistryEntry):
            return [found], {}
        entries: list[RegistryEntry] = []
        slots: dict[str, str] = {}
        for part in found.components:
            if part not in self.entries:
                raise RegistryError(
                    f"bundle '{name}' (from {found.origin.describe()}) lists '{part}', "
                    "which no registry offers",
                    fix="correct the bundle's components in its registry file; " + LIST_HINT,
                )
            entry = self.entries[part]
            if entry.slot in slots:
                raise RegistryError(
                    f"bundle '{name}' puts both '{slots[entry.slot]}' and '{part}' in slot "
                    f"'{entry.slot}'",
                    fix="give one of them another `slot:` in its registry file",
                )
            slots[entry.slot] = part
            entries.append(entry)
        return entries, dict(found.loop)

    def _warn_shadowed(self, name: str, found: RegistryEntry | Bundle) -> None:
        """Say so when ``name`` (or a part of the bundle) is not the entry it used to be: a
        later registry replaced an earlier one's (a builtin name, say) with its own."""
        parts = [name] + (list(found.components) if isinstance(found, Bundle) else [])
        for part in parts:
            if part in self.shadowed:
                origin = (self.entries.get(part) or self.bundles.get(part) or found).origin
                logger.warning(
                    "'%s' comes from %s, which replaces the '%s' of %s (a later registry's "
                    "name wins; rename it there to keep both)",
                    part,
                    origin.describe(),
                    part,
                    self.shadowed[part],
                )

    def defaults(self, name: str) -> dict[str, dict[str, Any]]:
        """The parameter defaults ``name`` sets, by slot (none for a single component)."""
        found = self.get(name)
        if not isinstance(found, Bundle):
            return {}
        return {slot: dict(params) for slot, params in found.defaults.items()}


# ----------------------------------------------------------------------------- loading


def load_registries(extra: list[str], agent_dir: Path) -> Registry:
    """The builtin index merged with ``extra`` registries (YAML files or git repositories)."""
    agent_dir = Path(agent_dir).resolve()
    sources = [BUILTIN]
    entries, bundles, gym = _parse(_builtin_data(), BUILTIN, "agentos/registry/builtin.yaml")
    seen: set[str] = set()
    shadowed: dict[str, str] = {}
    for text in extra:
        if text in seen:
            continue
        seen.add(text)
        try:
            source, data, where = _read_location(text, agent_dir)
        except RegistryError as e:  # a stale entry of the spec would block every command
            raise RegistryError(
                str(e).split("\nFix:")[0],
                fix=(f"{e.fix}; " if e.fix else "")
                + f"if agentos.yaml lists '{text}' under registries:, restore it or remove "
                "that line",
            ) from None
        sources.append(source)
        more_entries, more_bundles, more_gym = _parse(data, source, where)
        for name in [*more_entries, *more_bundles]:
            if name in entries or name in bundles:
                logger.info("registry %s overrides '%s'", source.describe(), name)
                old = entries.get(name) or bundles.get(name)
                shadowed[name] = old.origin.describe() if old is not None else "?"
                entries.pop(name, None)
                bundles.pop(name, None)
        entries.update(more_entries)
        bundles.update(more_bundles)
        gym = more_gym or gym
    return Registry(sources, entries, bundles, gym, shadowed)


def _builtin_data() -> Any:
    from importlib.resources import files

    import yaml

    return yaml.safe_load(files("agentos").joinpath("registry/builtin.yaml").read_text())


def _read_location(text: str, agent_dir: Path) -> tuple[RegistrySource, Any, str]:
    """Fetch a registry: its source, its parsed YAML and the file name for messages."""
    location = parse_location(text, agent_dir)
    if location.kind == "file":
        path = Path(location.target)
        return RegistrySource("file", str(path)), _load_yaml(path), str(path)
    from agentos.components.sources import git_checkout

    _check_local_repo(location.target)
    commit, checkout = git_checkout(location.target, location.rev, agent_dir)
    index = checkout / REGISTRY_FILENAME
    if not index.is_file():
        raise RegistryError(
            f"the repository {location.target} has no {REGISTRY_FILENAME} at its root "
            f"(commit {commit[:12]})",
            fix=f"add {REGISTRY_FILENAME} (same format as agentos/registry/builtin.yaml) and "
            "commit it",
        )
    source = RegistrySource("git", location.target, commit=commit, checkout=checkout)
    return source, _load_yaml(index), f"{location.target}@{commit[:12]}:{REGISTRY_FILENAME}"
