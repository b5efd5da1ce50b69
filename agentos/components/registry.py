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
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentos.components.registry_locations import REGISTRY_FILENAME as REGISTRY_FILENAME
from agentos.components.registry_locations import Location as Location
from agentos.components.registry_locations import _check_local_repo as _check_local_repo
from agentos.components.registry_locations import _load_yaml as _load_yaml
from agentos.components.registry_locations import normalise as normalise
from agentos.components.registry_locations import parse_location as parse_location
from agentos.components.spec import parse_defaults
from agentos.errors import RegistryError

logger = logging.getLogger(__name__)

GYM_PREFIX = "gym:"
"""``gym:<id>`` installs any gymnasium environment id."""
TOP_KEYS = ("components", "bundles", "gym")
ENTRY_KEYS = (
    "role",
    "slot",
    "description",
    "module",
    "class",
    "version",
    "params",
    "depends",
    "requirements",
)
BUNDLE_KEYS = ("description", "components", "loop", "defaults")
LIST_HINT = "run `agentos list` to see what the registries offer"


@dataclass(frozen=True)
class RegistrySource:
    """Where a registry (and so each of its entries) came from."""

    kind: str
    """``builtin``, ``file`` (a YAML file) or ``git`` (a repository)."""
    location: str
    """``builtin``, the YAML file's absolute path, or the repository URL (without ``git+``)."""
    commit: str | None = None
    """git only: the commit the registry was read at."""
    checkout: Path | None = None
    """git only: the folder holding the checkout (module paths are relative to it)."""

    def describe(self) -> str:
        """A short human-readable origin, e.g. ``file:///repo@1a2b3c4d5e6f``."""
        if self.kind == "git" and self.commit:
            return f"{self.location}@{self.commit[:12]}"
        return self.location


BUILTIN = RegistrySource(kind="builtin", location="builtin")


@dataclass(frozen=True)
class RegistryEntry:
    """A named component a registry offers."""

    name: str
    """The registry name (what ``agentos install`` takes); recorded as ``registry_name``."""
    role: str
    """The role it plays: environment, network, replay, actor or learner."""
    slot: str
    """The component name it takes in agentos.yaml (other components depend on it by this)."""
    module: str
    """An importable module (builtin/file registries) or a .py path in the repository (git)."""
    class_name: str
    """The component class in ``module``."""
    version: str = "0.0.0"
    """The entry's version, recorded in the spec."""
    description: str = ""
    """One line shown by ``agentos list``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Parameters written into the spec at install."""
    depends: Mapping[str, str] = field(default_factory=dict)
    """``{constructor argument: slot}`` of the components it needs."""
    requirements: tuple[str, ...] = ()
    """pip requirement specs installed with it."""
    origin: RegistrySource = BUILTIN
    """The registry it came from."""

    @property
    def source(self) -> str:
        """The spec's ``source`` for this entry: ``git`` for git registries, else ``builtin``."""
        return "git" if self.origin.kind == "git" else "builtin"


@dataclass(frozen=True)
class Bundle:
    """A named set of components installed together, with the loop parameters they need."""

    name: str
    """The bundle's name (what ``agentos install`` takes)."""
    components: tuple[str, ...]
    """Registry names of its components, installed in this order."""
    description: str = ""
    """One line shown by ``agentos list``."""
    loop: Mapping[str, Any] = field(default_factory=dict)
    """Parameters merged into the spec's ``loop:`` mapping."""
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``{slot: {param: value}}`` for components it may not provide (the environment's
    ``num_envs``), merged into the spec's ``defaults:`` mapping."""
    origin: RegistrySource = BUILTIN
    """The registry it came from."""


class Registry:
    """The merged registries: look names up, resolve bundles into their components."""

    def __init__(
        self,
        sources: list[RegistrySource],
        entries: Mapping[str, RegistryEntry],
        bundles: Mapping[str, Bundle],
        gym_template: RegistryEntry | None = None,
    ):
        self.sources = tuple(sources)
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
                entries.pop(name, None)
                bundles.pop(name, None)
        entries.update(more_entries)
        bundles.update(more_bundles)
        gym = more_gym or gym
    return Registry(sources, entries, bundles, gym)


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


# ----------------------------------------------------------------------------- parsing


def _parse(
    data: Any, source: RegistrySource, where: str
) -> tuple[dict[str, RegistryEntry], dict[str, Bundle], RegistryEntry | None]:
    """Validate one registry's YAML into entries, bundles and its gym template."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RegistryError(
            "a registry must be a mapping with 'components' and/or 'bundles'", where=where
        )
    _check_keys(data, TOP_KEYS, "the top level", where)
    comps = data.get("components") or {}
    bundles_raw = data.get("bundles") or {}
    for key, value in (("components", comps), ("bundles", bundles_raw)):
        if not isinstance(value, Mapping):
            raise RegistryError(f"'{key}' must be a mapping of name -> entry", where=where)
    entries = {str(n): _parse_entry(str(n), e, source, where) for n, e in comps.items()}
    bundles: dict[str, Bundle] = {}
    for name, raw in bundles_raw.items():
        name = str(name)
        if name in entries:
            raise RegistryError(
                f"'{name}' is both a component and a bundle",
                where=f"{where}: bundles.{name}",
                fix="rename one of them",
            )
        bundles[name] = _parse_bundle(name, raw, source, where)
    gym = None
    if data.get("gym") is not None:
        gym = _parse_entry("gym", data["gym"], source, where, key="gym")
    return entries, bundles, gym


def _check_keys(raw: Mapping, known: tuple[str, ...], at: str, where: str) -> None:
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            raise RegistryError(f"unknown key '{key}' at {at}", where=where, fix=hint)


def _parse_entry(
    name: str, raw: Any, source: RegistrySource, where: str, key: str | None = None
) -> RegistryEntry:
    from agentos.components.roles import ROLES

    at = key or f"components.{name}"
    loc = f"{where}: {at}"
    shape = "role: actor, module: my_actor.py, class: MyActor"
    if not isinstance(raw, Mapping):
        raise RegistryError(
            f"'{at}' must be a mapping (role, module, class, ...)",
            where=where,
            fix=f"write the entry as {{{shape}}}",
        )
    _check_keys(raw, ENTRY_KEYS, at, where)
    for required in ("role", "module", "class"):
        if not isinstance(raw.get(required), str) or not raw[required]:
            raise RegistryError(
                f"missing '{required}'",
                where=f"{loc}.{required}",
                fix=f"every component entry names its role, module and class, e.g. {shape}",
            )
    role = raw["role"]
    if role not in ROLES:
        close = difflib.get_close_matches(role, ROLES, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise RegistryError(
            f"unknown role '{role}'", where=f"{loc}.role", fix=f"{hint}roles: {', '.join(ROLES)}"
        )
    module = raw["module"]
    _check_module(module, source, f"{loc}.module")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        raise RegistryError("'params' must be a mapping", where=f"{loc}.params")
    depends = raw.get("depends") or {}
    if isinstance(depends, list):
        depends = {str(d): str(d) for d in depends}
    if not isinstance(depends, Mapping) or not all(isinstance(v, str) for v in depends.values()):
        raise RegistryError(
            "'depends' must map an argument name to a slot",
            where=f"{loc}.depends",
            fix="e.g. depends: {network: network, replay: replay}",
        )
    requirements = raw.get("requirements") or []
    if not isinstance(requirements, list) or not all(isinstance(r, str) for r in requirements):
        raise RegistryError(
            "'requirements' must be a list of pip requirement strings",
            where=f"{loc}.requirements",
            fix='e.g. requirements: ["minigrid>=2.3"]',
        )
    slot = raw.get("slot") or role
    if not isinstance(slot, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", slot):
        raise RegistryError(
            f"slot '{slot}' is not a valid component name",
            where=f"{loc}.slot",
            fix="use letters, digits and underscores",
        )
    return RegistryEntry(
        name=name,
        role=role,
        slot=slot,
        module=module,
        class_name=raw["class"],
        version=str(raw.get("version") if raw.get("version") is not None else "0.0.0"),
        description=str(raw.get("description") or ""),
        params=MappingProxyType(dict(params)),
        depends=MappingProxyType({str(k): str(v) for k, v in depends.items()}),
        requirements=tuple(requirements),
        origin=source,
    )


def _check_module(module: str, source: RegistrySource, where: str) -> None:
    """A git entry's module is a .py file inside the checkout; others are dotted module names."""
    if source.kind == "git":
        checkout = Path(source.checkout or ".").resolve()
        path = (checkout / module).resolve()
        if not module.endswith(".py") or not path.is_relative_to(checkout):
            raise RegistryError(
                f"module '{module}' must be a .py path inside the repository",
                where=where,
                fix="e.g. module: components/my_actor.py",
            )
        if not path.is_file():
            raise RegistryError(
                f"file '{module}' not found in the repository at commit {source.commit[:12]}",
                where=where,
                fix="commit the file, or correct the path (relative to the repository root)",
            )
        return
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", module):
        raise RegistryError(
            f"module '{module}' is not an importable module name",
            where=where,
            fix="a YAML-file registry names importable modules (e.g. mypkg.actors); to ship .py "
            f"files, put them in a git repository with an {REGISTRY_FILENAME} at its root",
        )


def _parse_bundle(name: str, raw: Any, source: RegistrySource, where: str) -> Bundle:
    at = f"bundles.{name}"
    if not isinstance(raw, Mapping):
        raise RegistryError(
            f"'{at}' must be a mapping (description, components, loop)", where=where
        )
    _check_keys(raw, BUNDLE_KEYS, at, where)
    parts = raw.get("components")
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        raise RegistryError(
            "a bundle needs a non-empty list of component names",
            where=f"{where}: {at}.components",
            fix="e.g. components: [dqn_network, uniform_replay, dqn_actor, dqn_learner]",
        )
    loop = raw.get("loop") or {}
    if not isinstance(loop, Mapping):
        raise RegistryError("'loop' must be a mapping of parameters", where=f"{where}: {at}.loop")
    defaults = parse_defaults(raw.get("defaults"), RegistryError, where, key=f"{at}.defaults")
    return Bundle(
        name=name,
        components=tuple(parts),
        description=str(raw.get("description") or ""),
        loop=MappingProxyType(dict(loop)),
        defaults=MappingProxyType(defaults),
        origin=source,
    )
