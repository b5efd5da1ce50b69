"""What a registry file holds: the entries and bundles it offers, and the checks that read
them from its YAML (the format is documented at the top of ``agentos/registry/builtin.yaml``)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentos.components.registry_locations import REGISTRY_FILENAME
from agentos.components.spec import parse_defaults
from agentos.errors import RegistryError

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


# ----------------------------------------------------------------------------- parsing


def _parse(
    data: Any, source: RegistrySource, where: str
) -> tuple[dict[str, RegistryEntry], dict[str, Bundle], RegistryEntry | None]:
    """Validate one registry's YAML into entries, bundles and its gym template."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise RegistryError(
            "a registry must be a mapping with 'components' and/or 'bundles', got "
            f"{type(data).__name__}",
            where=where,
            fix="write `components: {NAME: {role: ..., module: ..., class: ...}}` (the format "
            "is documented at the top of agentos/registry/builtin.yaml)",
        )
    _check_keys(data, TOP_KEYS, "the top level", where)
    comps = data.get("components") or {}
    bundles_raw = data.get("bundles") or {}
    for key, value in (("components", comps), ("bundles", bundles_raw)):
        if not isinstance(value, Mapping):
            raise RegistryError(
                f"'{key}' must be a mapping of name -> entry, got {type(value).__name__}",
                where=f"{where}: {key}",
                fix=f"indent each entry under '{key}:' as `NAME: {{...}}`, not as a list item",
            )
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
        raise RegistryError(
            f"'params' must be a mapping, got {type(params).__name__}",
            where=f"{loc}.params",
            fix="e.g. params: {env_id: CartPole-v1}",
        )
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
            f"'{at}' must be a mapping (description, components, loop), got {type(raw).__name__}",
            where=where,
            fix=f"e.g. {name}: {{components: [my_network, my_actor]}}",
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
        raise RegistryError(
            f"'loop' must be a mapping of parameters, got {type(loop).__name__}",
            where=f"{where}: {at}.loop",
            fix="e.g. loop: {min_replay_size: 1000}",
        )
    defaults = parse_defaults(raw.get("defaults"), RegistryError, where, key=f"{at}.defaults")
    return Bundle(
        name=name,
        components=tuple(parts),
        description=str(raw.get("description") or ""),
        loop=MappingProxyType(dict(loop)),
        defaults=MappingProxyType(defaults),
        origin=source,
    )
