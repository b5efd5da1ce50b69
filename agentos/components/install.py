"""``agentos install`` / ``uninstall``: registry entries in and out of ``agentos.yaml``.

Installing resolves each name (a component, a bundle or ``gym:<id>``) in the builtin registry,
the spec's ``registries:`` and the ones given, installs the entries' pip requirements, and
writes each entry under its slot with its source, version and the content hash of its files
(which loading checks later). A bundle's ``loop`` parameters go into the spec's ``loop:`` and
its parameter ``defaults`` into the spec's ``defaults:`` (by slot, so they hold for a
component installed before or after the bundle). Nothing is written unless every name
resolves.
"""

from __future__ import annotations

import difflib
import logging
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentos.components.install_checks import (
    Approve,
    approve_or_refuse,
    check_entry_keys,
    check_gym_id,
    check_requirements,
    warn_kept_settings,
)
from agentos.components.registry import GYM_PREFIX, RegistryEntry, load_registries, normalise
from agentos.components.sources import component_files, content_hash
from agentos.components.spec import (
    AgentSpec,
    ComponentSpec,
    find_spec_file,
    parse_spec,
    read_raw,
    save_raw,
)
from agentos.errors import AgentOSError, SpecError

logger = logging.getLogger(__name__)

PIP_TIMEOUT_S = 1800
"""Longest ``pip install`` may take."""


def install(
    agent_dir: Path,
    names: list[str],
    registries: list[str],
    *,
    approve: Approve | None = None,
    overrides: list[str] | None = None,
) -> list[str]:
    """Install components/bundles into the agent's spec; returns the slots written.

    ``approve`` is asked with the exact pip requirements before pip runs (the CLI asks the
    user); without it they are logged and installed. ``overrides`` (``COMPONENT.KEY=VALUE``,
    as ``learn -p``) are written into the spec's params, each checked against its component's
    parameters; a bad one fails before the spec changes.
    """
    if not names:
        raise AgentOSError(
            "nothing to install",
            fix="give component, bundle or gym:<id> names; `agentos list` shows them",
        )
    agent_dir = Path(agent_dir).resolve()
    spec_file = find_spec_file(agent_dir)
    raw = read_raw(spec_file)
    parse_spec(raw, spec_file)
    known = list(raw.get("registries") or [])
    added: list[str] = []
    for text in registries:
        stored = normalise(text, Path.cwd(), agent_dir)
        if stored not in known and stored not in added:
            added.append(stored)
    registry = load_registries(known + added, agent_dir)

    plan: dict[str, RegistryEntry] = {}
    loop: dict[str, Any] = {}
    loop_origins: dict[str, str] = {}
    defaults: dict[str, dict[str, Any]] = {}
    for name in names:
        entries, loop_params = registry.resolve(name)
        loop_origins.update(dict.fromkeys(loop_params, name))
        for entry in entries:
            if entry.slot in plan and plan[entry.slot].name != entry.name:
                logger.warning(
                    "'%s' replaces '%s' in slot '%s'", entry.name, plan[entry.slot].name, entry.slot
                )
            plan[entry.slot] = entry
        loop.update(loop_params)
        for slot, params in registry.defaults(name).items():
            defaults.setdefault(slot, {}).update(params)

    for entry in plan.values():
        check_requirements(entry.requirements, f"{entry.origin.describe()}: {entry.name}")
    requirements = list(dict.fromkeys(r for e in plan.values() for r in e.requirements))
    if requirements:
        pip_install(requirements, approve)
    for entry in plan.values():
        if entry.name.startswith(GYM_PREFIX):
            check_gym_id(entry.name, str(entry.params.get("env_id", "")))

    components = raw.get("components")
    if not isinstance(components, dict):
        components = {}
    for slot, entry in plan.items():
        old = components.get(slot)
        if isinstance(old, Mapping) and old.get("registry_name") != entry.name:
            logger.info(
                "slot '%s': replacing %s with %s",
                slot,
                old.get("registry_name") or old.get("module"),
                entry.name,
            )
        try:
            components[slot] = spec_entry(entry, slot, agent_dir)
        except SpecError as e:  # the registry's entry is wrong, not agentos.yaml
            raise SpecError(
                f"{e.message} (agentos.yaml was not changed)",
                where=f"{entry.origin.describe()}: {entry.name}",
                fix=e.fix or "correct the registry entry",
            ) from None
        _keep_written_params(old, components[slot], slot)
    raw["components"] = components
    warn_kept_settings(raw, loop, defaults, registry.bundles.values())
    if loop:
        raw["loop"] = {**(raw.get("loop") or {}), **loop}
    if defaults:
        # Kept apart from the components: the slot they are for may be installed later.
        old_defaults = raw.get("defaults") or {}
        merged = {slot: dict(params) for slot, params in old_defaults.items()}
        for slot, params in defaults.items():
            merged[slot] = {**merged.get(slot, {}), **params}
        raw["defaults"] = merged
    if added:
        raw["registries"] = known + added
    spec = parse_spec(raw, spec_file)
    check_entry_keys(spec, plan, loop_origins, agent_dir)
    if overrides:
        _write_overrides(raw, overrides, spec)
        spec = parse_spec(raw, spec_file)
        _check_gym_kwargs(spec, overrides)
    save_raw(spec_file, raw)
    _warn_missing_dependencies(spec.components, list(plan))
    _warn_incompatible_spaces(spec)
    return list(plan)


def _keep_written_params(old: Any, new: dict[str, Any], slot: str) -> None:
    """Installing the component a slot already holds keeps the params written for it (by
    ``install -p``, ``learn`` overrides saved by hand, edits): a reinstall must not undo
    them. A different component, or the same name now another class, starts afresh."""
    if not isinstance(old, Mapping) or not isinstance(old.get("params"), Mapping):
        return
    same = all(old.get(k) == new.get(k) for k in ("registry_name", "module", "class"))
    kept = {k: v for k, v in old["params"].items() if new["params"].get(k, object()) != v}
    if not same or not kept:
        return
    new["params"] = {**new["params"], **old["params"]}
    logger.warning(
        "slot '%s': %s was installed already: kept its params %s (uninstall it first to "
        "start from the registry's)",
        slot,
        new["registry_name"],
        ", ".join(f"{k}={v}" for k, v in kept.items()),
    )


def spec_entry(entry: RegistryEntry, slot: str, agent_dir: Path) -> dict[str, Any]:
    """The spec entry for ``entry``, with the hash of its files as they are now."""
    source = entry.source
    url = entry.origin.location if source == "git" else None
    commit = entry.origin.commit if source == "git" else None
    cspec = ComponentSpec(
        name=slot,
        source=source,
        module=entry.module,
        class_name=entry.class_name,
        url=url,
        commit=commit,
        registry_name=entry.name,
    )
    digest = content_hash(component_files(cspec, agent_dir))
    record: dict[str, Any] = {
        "source": source,
        "registry_name": entry.name,
        "role": entry.role,
        "description": entry.description,
        "module": entry.module,
        "class": entry.class_name,
        "version": entry.version,
        "hash": digest,
    }
    if source == "git":
        record["url"] = url
        record["commit"] = commit
    if entry.requirements:
        record["requirements"] = list(entry.requirements)
    record["params"] = dict(entry.params)
    record["depends"] = dict(entry.depends)
    return record


def _write_overrides(raw: dict[str, Any], overrides: list[str], spec: AgentSpec) -> None:
    """Writes ``-p COMPONENT.KEY=VALUE`` into ``raw``'s params (``loop.KEY`` into ``loop:``),
    each key and value checked against the component's ``Params`` (its class is imported)."""
    from agentos.components.graph import LOOP_KEY
    from agentos.components.params import apply_overrides, check_values
    from agentos.components.sections import loop_params_class
    from agentos.components.sources import load_component_class

    tree = {slot: dict(entry.get("params") or {}) for slot, entry in raw["components"].items()}
    tree[LOOP_KEY] = dict(raw.get(LOOP_KEY) or {})
    tree = apply_overrides(tree, overrides)
    changed: dict[str, list[str]] = {}
    for item in overrides:
        name, key = item.split("=", 1)[0].strip().split(".")
        changed.setdefault(name, []).append(key)
    for name, keys in changed.items():
        cls: type | None
        if name == LOOP_KEY:
            cls, where = loop_params_class(), f"{spec.path}: loop"
        else:
            component = spec.components[name]
            cls = getattr(load_component_class(component, spec.agent_dir), "Params", None)
            where = f"{spec.path}: components.{name}.params"
        check_values(cls, {key: tree[name][key] for key in keys}, where)
        _check_changed_values(cls, tree[name], keys, where)
    for slot, entry in raw["components"].items():
        entry["params"] = tree[slot]
    if tree[LOOP_KEY]:
        raw[LOOP_KEY] = tree[LOOP_KEY]


def _check_changed_values(
    cls: type | None, values: dict[str, Any], keys: list[str], where: str
) -> None:
    """Run the Params' own checks (ranges, known names) on the values ``-p`` set, so that a
    bad value is refused at install rather than at the next command. References and
    cross-parameter checks that do not involve ``keys`` are left to the graph."""
    import dataclasses

    from agentos.components.params import build_params
    from agentos.errors import ParameterError

    if cls is None or not dataclasses.is_dataclass(cls):
        return
    literal = {k: v for k, v in values.items() if not (isinstance(v, str) and "${" in v)}
    try:
        build_params(cls, literal, where)
    except ParameterError as e:
        if any(key in str(e) for key in keys):
            raise


def _check_gym_kwargs(spec: AgentSpec, overrides: list[str]) -> None:
    """A gymnasium id's ``kwargs`` given with ``-p`` at install: the environment is made once,
    so that kwargs it rejects fail the install (the spec unchanged) instead of every command
    after it. A package that is missing is left to the install's warning."""
    from agentos.envs.make import make_gym

    for name, component in spec.components.items():
        keys = {o.split("=", 1)[0].strip() for o in overrides}
        if f"{name}.kwargs" not in keys or component.module != "agentos.envs.gym_env":
            continue
        env_id, kwargs = component.params.get("env_id"), component.params.get("kwargs")
        if not isinstance(env_id, str) or not isinstance(kwargs, Mapping):
            continue
        try:
            make_gym(env_id, 1, dict(kwargs)).close()
        except AgentOSError as e:
            message = str(e).split("\nFix:")[0]
            if "needs a package" in message:
                continue
            raise AgentOSError(
                message,
                where=f"-p {name}.kwargs",
                fix=f"give kwargs that {env_id} takes (see its documentation), or leave out "
                f"-p {name}.kwargs; nothing was installed",
            ) from None


def _drop_defaults(raw: dict[str, Any], bundle_defaults: Mapping[str, Mapping[str, Any]]) -> None:
    """Remove from the spec the defaults a bundle set, unless the user has changed them."""
    remaining = {slot: dict(params) for slot, params in raw["defaults"].items()}
    for slot, params in bundle_defaults.items():
        for key, value in params.items():
            if slot in remaining and remaining[slot].get(key, object()) == value:
                del remaining[slot][key]
    remaining = {slot: params for slot, params in remaining.items() if params}
    if remaining:
        raw["defaults"] = remaining
    else:
        raw.pop("defaults")


def _warn_missing_dependencies(components: Mapping[str, ComponentSpec], slots: list[str]) -> None:
    for slot in slots:
        for arg, target in components[slot].depends.items():
            if target not in components:
                logger.warning(
                    "component '%s' needs '%s' (argument %s), which is not installed yet",
                    slot,
                    target,
                    arg,
                )


def _warn_incompatible_spaces(spec: AgentSpec) -> None:
    """Warn when the environment's spaces do not fit a component (e.g. DQN on continuous
    actions), with the components' own ``check_spaces`` as run and learn apply them, or
    when components of two different agents were mixed (an R2D2 actor on a DQN network).

    Only when that is cheap and safe: every component is agentos's own (no user code runs at
    install) and a gymnasium id is not a plugin package's. The agent may be half-installed
    (the environment first, the agent after), so anything else wrong is left to run/learn.
    """
    from agentos.components.graph import load_graph
    from agentos.errors import IncompatibleComponentsError, IncompatibleSpaceError

    components = spec.components.values()
    if not components or any(c.source != "builtin" for c in components):
        return
    if any(":" in str(c.params.get("env_id", "")) for c in components):
        return
    try:
        load_graph(spec)
    except (IncompatibleSpaceError, IncompatibleComponentsError) as e:
        message = str(e).split("\nFix:")[0]
        logger.warning(
            "this agent cannot run or learn yet: %s. Fix: %s, or install components that fit",
            message,
            e.fix or "install an environment and components that fit each other",
        )
    except Exception as e:  # a check that warns must never fail an install
        logger.debug("space check skipped: %s", e)


def unsatisfied(requirements: list[str]) -> list[str]:
    """The requirements this Python does not already satisfy (all of them if unsure)."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return list(requirements)
    missing = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            missing.append(text)  # pip will say what is wrong with it
            continue
        if req.marker is not None and not req.marker.evaluate():
            continue  # does not apply to this platform / Python
        if req.url or req.extras:
            missing.append(text)
            continue
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            missing.append(text)
            continue
        if not req.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def pip_install(requirements: list[str], approve: Approve | None = None) -> None:
    """``pip install`` the requirements into this Python, after ``approve`` said yes; failure
    shows pip's last lines. Only valid requirement strings, after ``--``."""
    requirements = unsatisfied(check_requirements(requirements, "requirements"))
    if not requirements:
        logger.info("requirements already satisfied")
        return
    approve_or_refuse(requirements, approve)
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--"]
    cmd += requirements
    logger.info("installing requirements: %s", " ".join(requirements))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AgentOSError(
            f"pip took longer than {PIP_TIMEOUT_S} s installing {', '.join(requirements)}",
            fix="check your network, or install them yourself with pip and retry",
        ) from None
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-8:]
        raise AgentOSError(
            f"pip could not install {', '.join(requirements)}:\n  " + "\n  ".join(lines),
            fix="check the requirement names and versions and your network, or install them "
            "yourself with `pip install ...` and retry",
        )
    logger.debug("pip: %s", proc.stdout.strip().splitlines()[-1:] or "")


def uninstall(agent_dir: Path, name: str) -> list[str]:
    """Remove components by component name, registry name or bundle name; returns them."""
    agent_dir = Path(agent_dir).resolve()
    spec_file = find_spec_file(agent_dir)
    raw = read_raw(spec_file)
    parse_spec(raw, spec_file)
    components = raw.get("components") or {}
    if name in components:
        targets = [name]
    else:
        targets = [k for k, v in components.items() if v.get("registry_name") == name]
    bundle = None
    if not targets:
        registry = load_registries(list(raw.get("registries") or []), agent_dir)
        bundle = registry.bundles.get(name)
        if bundle is not None:
            targets = [
                k for k, v in components.items() if v.get("registry_name") in bundle.components
            ]
    if not targets:
        installed = list(components) + [
            v["registry_name"] for v in components.values() if v.get("registry_name")
        ]
        close = difflib.get_close_matches(name, installed, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise SpecError(
            f"'{name}' is not installed in this agent",
            where=str(spec_file),
            fix=f"{hint}installed components: {', '.join(components) or 'none'}",
        )
    for target in targets:
        del components[target]
    raw["components"] = components
    if bundle is not None and raw.get("defaults"):
        _drop_defaults(raw, bundle.defaults)
    for other, entry in components.items():
        deps = entry.get("depends") or {}
        needed = deps.values() if isinstance(deps, Mapping) else deps
        for target in targets:
            if target in needed:
                logger.warning("component '%s' depends on '%s', now uninstalled", other, target)
    parse_spec(raw, spec_file)
    save_raw(spec_file, raw)
    return targets
