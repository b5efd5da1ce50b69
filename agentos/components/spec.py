"""The agent spec, ``agentos.yaml``: named components, loop parameters, registries.

Format::

    name: my_agent
    registries: []                 # extra registries (YAML file or git+file://... repo)
    components:
      environment:                 # the component's name; others refer to it by this
        source: builtin            # builtin | local | git
        registry_name: cartpole    # the registry entry it was installed from
        module: agentos.envs.gym_env   # builtin: a module; local/git: a .py path
        class: GymEnvironment
        version: 0.1.0
        hash: sha256:...           # content hash recorded at install (builtin/git)
        params: {env_id: CartPole-v1}
        depends: {}                # {argument: component name}
    loop: {eval_every: 10000}      # parameters of the run loop
    defaults:                      # parameter defaults set by installed bundles, by slot;
      environment: {num_envs: 8}   # used where the component declares the field and the
                                   # spec's params and -p overrides leave it unset
    bench: {}                      # optional benchmark suites

Parsing produces frozen dataclasses; edits (install/uninstall) go through the raw
mapping and ``save_raw`` so the file stays the single source of truth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentos.components.spec_checks import (
    check_component_name,
    check_default_slots,
    check_role,
    check_texts,
    unknown_key_error,
)
from agentos.errors import AgentOSError, SpecError

SPEC_FILENAME = "agentos.yaml"
SOURCES = ("builtin", "local", "git")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMPONENT_KEYS = (
    "source",
    "registry_name",
    "module",
    "class",
    "version",
    "hash",
    "url",
    "commit",
    "requirements",
    "description",
    "role",
    "params",
    "depends",
    "allow_outside_agent",
)
TOP_KEYS = ("name", "components", "loop", "defaults", "registries", "bench")
MAX_NAME = 200
"""The longest agent name (MLflow's experiment names stop at 500 characters)."""


@dataclass(frozen=True)
class ComponentSpec:
    """One component entry of the spec."""

    name: str
    source: str
    module: str
    class_name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    depends: Mapping[str, str] = field(default_factory=dict)
    registry_name: str | None = None
    version: str | None = None
    hash: str | None = None
    url: str | None = None
    commit: str | None = None
    requirements: tuple[str, ...] = ()
    description: str = ""
    role: str | None = None
    allow_outside_agent: bool = False
    """A local ``module`` may lie outside the agent folder only when this is true."""

    @property
    def where(self) -> str:
        """The key path of this entry, for messages."""
        return f"components.{self.name}"


@dataclass(frozen=True)
class AgentSpec:
    """The parsed agent spec."""

    path: Path
    name: str
    components: Mapping[str, ComponentSpec]
    loop: Mapping[str, Any]
    registries: tuple[str, ...]
    bench: Mapping[str, Any]
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """{slot: {param: value}} set by bundles; see ``agentos.components.graph.apply_defaults``."""

    @property
    def agent_dir(self) -> Path:
        """The folder holding the spec."""
        return self.path.parent

    def by_role(self, role: str) -> list[ComponentSpec]:
        """Components whose declared role (or registry role) is ``role``."""
        return [c for c in self.components.values() if c.role == role]


def find_spec_file(path: str | Path = ".") -> Path:
    """The agentos.yaml for ``path`` (a folder or the file itself)."""
    p = Path(path).expanduser().resolve()
    candidate = p if p.suffix in (".yaml", ".yml") else p / SPEC_FILENAME
    if candidate.is_dir():
        raise SpecError(
            f"{candidate} is a folder, not an agent spec file",
            fix="remove or rename that folder, then run `agentos init` in the agent folder",
        )
    if not candidate.is_file():
        fix = "run `agentos init .` to create one, or pass the agent folder with --agent"
        if p.is_file():
            fix = f"{p} is a file: pass the agent folder (the one holding {SPEC_FILENAME})"
        elif candidate.parent.is_dir():
            near = sorted(
                f.name
                for f in candidate.parent.iterdir()
                if f.name != SPEC_FILENAME
                and f.name.lower() in (SPEC_FILENAME.lower(), "agentos.yml", "agentos.yaml.txt")
            )
            if near:
                fix = (
                    f"rename {near[0]} to {SPEC_FILENAME} (the name agentos looks for), or "
                    f"pass the file itself: --agent {candidate.parent / near[0]}"
                )
        raise SpecError(f"no agent spec found at {candidate}", fix=fix)
    return candidate


def read_raw(path: Path) -> dict[str, Any]:
    """The spec file as a mapping; malformed YAML becomes a SpecError with line/column."""
    import yaml

    from agentos.components.strict_yaml import decode_utf8, load_yaml

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(
            f"cannot read the spec: {e.strerror or e}",
            where=str(path),
            fix="check that the file exists and that you may read it",
        ) from None
    text = decode_utf8(raw, path)
    try:
        data = load_yaml(text, path)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(
            f"malformed YAML: {problem}",
            where=loc,
            fix="correct the YAML syntax at that line (indentation, a missing ':' or quote)",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            f"the spec must be a mapping with a 'components' key, got {type(data).__name__}",
            where=str(path),
            fix="see `agentos init` for a template",
        )
    return data


def save_raw(path: Path, data: Mapping[str, Any]) -> None:
    """Write the spec mapping back, keeping key order."""
    import yaml

    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=False))
    tmp.replace(path)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def parse_spec(data: Mapping[str, Any], path: Path) -> AgentSpec:
    """Validate the raw mapping and build an AgentSpec."""
    for key in data:
        if key not in TOP_KEYS:
            raise unknown_key_error(str(key), TOP_KEYS, "the top level", path)
    components_raw = data.get("components") or {}
    if not isinstance(components_raw, Mapping):
        raise SpecError(
            "'components' must be a mapping of name -> component",
            where=f"{path}: components",
            fix="indent each component under 'components:' as `name: {source: ..., ...}`",
        )
    components: dict[str, ComponentSpec] = {}
    for name, entry in components_raw.items():
        check_component_name(str(name), path)
        components[str(name)] = _parse_component(str(name), entry, path)
    loop = data.get("loop") or {}
    if not isinstance(loop, Mapping):
        raise SpecError(
            "'loop' must be a mapping of parameters",
            where=f"{path}: loop",
            fix="e.g. loop: {eval_episodes: 10, min_replay_size: 1000}",
        )
    registries = data.get("registries") or []
    if not isinstance(registries, list) or not all(isinstance(r, str) for r in registries):
        raise SpecError(
            "'registries' must be a list of paths or URLs",
            where=f"{path}: registries",
            fix="e.g. registries: [../my-registry.yaml, git+file:///path/repo], or []",
        )
    bench = data.get("bench") or {}
    if not isinstance(bench, Mapping):
        raise SpecError(
            "'bench' must be a mapping of suite name -> suite",
            where=f"{path}: bench",
            fix="e.g. bench: {quick: {envs: [agent], seeds: [0, 1], steps: 20000}}",
        )
    name = data.get("name")
    if name is not None and not isinstance(name, (str, int, float)):
        raise SpecError(
            f"'name' must be a text, got {type(name).__name__}",
            where=f"{path}: name",
            fix="e.g. name: my_agent (or remove it to use the folder's name)",
        )
    if name is not None and (not str(name).strip() or len(str(name)) > MAX_NAME):
        raise SpecError(
            f"'name' must be 1-{MAX_NAME} characters and not blank, got "
            f"{len(str(name))} character(s): {str(name)[:40]!r}",
            where=f"{path}: name",
            fix="e.g. name: my_agent (or remove it to use the folder's name); runs are "
            "stored under this name",
        )
    defaults = parse_defaults(data.get("defaults"), SpecError, str(path))
    check_default_slots(defaults, components, path)
    return AgentSpec(
        path=path,
        name=str(data.get("name") or path.parent.name),
        components=MappingProxyType(components),
        loop=MappingProxyType(dict(loop)),
        registries=tuple(registries),
        bench=MappingProxyType(dict(bench)),
        defaults=MappingProxyType(defaults),
    )


def parse_defaults(
    raw: Any, error: type[AgentOSError], where: str, key: str = "defaults"
) -> dict[str, MappingProxyType]:
    """A ``{slot: {param: value}}`` mapping checked for shape; ``error`` names the bad key."""
    if raw is None:
        return {}
    example = "e.g. defaults: {environment: {num_envs: 8}}"
    if not isinstance(raw, Mapping):
        raise error(
            f"'{key}' must be a mapping of component slot -> {{param: value}}",
            where=f"{where}: {key}",
            fix=example,
        )
    out: dict[str, MappingProxyType] = {}
    for slot, params in raw.items():
        if not isinstance(slot, str) or not _NAME.match(slot):
            raise error(
                f"'{slot}' in '{key}' is not a component slot name",
                where=f"{where}: {key}",
                fix="use a component name (letters, digits and underscores); " + example,
            )
        if not isinstance(params, Mapping):
            raise error(
                f"'{key}.{slot}' must be a mapping of param -> value, got {type(params).__name__}",
                where=f"{where}: {key}.{slot}",
                fix=example,
            )
        for name in params:
            if not isinstance(name, str) or not _NAME.match(name):
                raise error(
                    f"'{name}' in '{key}.{slot}' is not a parameter name",
                    where=f"{where}: {key}.{slot}",
                    fix="use the parameter's field name; " + example,
                )
        out[slot] = MappingProxyType(dict(params))
    return out


def _parse_component(name: str, entry: Any, path: Path) -> ComponentSpec:
    where = f"components.{name}"
    if not isinstance(entry, Mapping):
        raise SpecError(
            f"component '{name}' must be a mapping (source, module, class, params, depends), "
            f"got {type(entry).__name__}",
            where=f"{path}: {where}",
            fix=f"install it with `agentos install NAME`, or write `{name}: {{source: local, "
            "module: file.py, class: Class}`",
        )
    for key in entry:
        if key not in COMPONENT_KEYS:
            raise unknown_key_error(str(key), COMPONENT_KEYS, where, path)
    source = entry.get("source", "local")
    if source not in SOURCES:
        raise SpecError(
            f"unknown source '{source}'",
            where=f"{path}: {where}.source",
            fix=f"use one of: {', '.join(SOURCES)}",
        )
    check_texts(entry, where, path)
    check_role(entry.get("role"), where, path)
    for required in ("module", "class"):
        if not isinstance(entry.get(required), str) or not entry.get(required):
            raise SpecError(
                f"missing '{required}'",
                where=f"{path}: {where}.{required}",
                fix="give the module (a .py file for local components) and the class name, "
                "or install the component from a registry with `agentos install NAME`",
            )
    params = entry.get("params") or {}
    if not isinstance(params, Mapping):
        raise SpecError(
            f"'params' must be a mapping of parameter -> value, got {type(params).__name__}",
            where=f"{path}: {where}.params",
            fix="e.g. params: {learning_rate: 0.001} (see `agentos show` for the parameters)",
        )
    depends = entry.get("depends") or {}
    if isinstance(depends, list):
        depends = {str(d): str(d) for d in depends}
    if not isinstance(depends, Mapping) or not all(isinstance(v, str) for v in depends.values()):
        raise SpecError(
            "'depends' must map an argument name to a component name",
            where=f"{path}: {where}.depends",
            fix="e.g. depends: {network: network, replay: replay}",
        )
    if source == "git" and not (entry.get("url") and entry.get("commit")):
        raise SpecError(
            "a git component needs 'url' and 'commit'",
            where=f"{path}: {where}",
            fix="reinstall it with `agentos install NAME --registry git+URL`",
        )
    requirements = entry.get("requirements") or []
    if not isinstance(requirements, list):
        raise SpecError(
            f"'requirements' must be a list of package requirements, got "
            f"{type(requirements).__name__}",
            where=f"{path}: {where}.requirements",
            fix="e.g. requirements: ['numpy>=1.26'], or remove the key",
        )
    allow_outside = entry.get("allow_outside_agent", False)
    if not isinstance(allow_outside, bool):
        raise SpecError(
            "'allow_outside_agent' must be true or false",
            where=f"{path}: {where}.allow_outside_agent",
            fix="write `allow_outside_agent: true` to let a local module live outside the "
            "agent folder, or remove the key",
        )
    return ComponentSpec(
        name=name,
        source=source,
        module=entry["module"],
        class_name=entry["class"],
        params=MappingProxyType(dict(params)),
        depends=MappingProxyType({str(k): str(v) for k, v in depends.items()}),
        registry_name=entry.get("registry_name"),
        version=None if entry.get("version") is None else str(entry.get("version")),
        hash=entry.get("hash"),
        url=entry.get("url"),
        commit=entry.get("commit"),
        requirements=tuple(str(r) for r in requirements),
        description=str(entry.get("description") or ""),
        role=entry.get("role"),
        allow_outside_agent=allow_outside,
    )


def load_spec(path: str | Path = ".") -> AgentSpec:
    """Find, read and validate the agent spec at ``path``."""
    spec_file = find_spec_file(path)
    return parse_spec(read_raw(spec_file), spec_file)
