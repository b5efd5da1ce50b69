"""One parameter tree for the whole agent: references, CLI overrides, typed dataclasses.

The tree is ``{component name: {param: value}, "loop": {...}}``. A value written as
``"${replay.sequence_length}"`` refers to another parameter (its type is kept); a
reference inside a longer string is interpolated. ``-p learner.learning_rate=3e-4``
overrides a value before references are resolved, so derived values follow.

Precedence, highest first: a ``-p`` override, the component's ``params`` in the spec, the
spec's ``defaults:`` (set by bundles, see ``apply_defaults``), the Params dataclass default.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any

from agentos.errors import AgentOSError, ParameterError

logger = logging.getLogger(__name__)

NON_FINITE = ("nan", "inf", "infinity")
"""Words ``float()`` reads that YAML leaves as strings (YAML's own are ``.nan``/``.inf``)."""
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


def parse_value(text: str) -> Any:
    """A CLI value: YAML scalars and lists, with ``3e-4``-style floats that YAML 1.1 misses."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            numeric = any(c in value for c in ".eE") or value.lower().lstrip("+-") in NON_FINITE
            return float(value) if numeric else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(
    tree: Mapping[str, Mapping[str, Any]], overrides: list[str] | None
) -> dict[str, dict[str, Any]]:
    """A copy of ``tree`` with ``key.path=value`` overrides applied."""
    out = {k: dict(v) for k, v in tree.items()}
    for item in overrides or []:
        if "=" not in item:
            raise ParameterError(
                f"override '{item}' is not of the form key=value",
                where="-p/--param",
                fix="write e.g. -p learner.learning_rate=3e-4",
            )
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) != 2 or not all(parts):
            raise ParameterError(
                f"override key '{key}' must be COMPONENT.PARAM",
                where="-p/--param",
                fix=f"components: {', '.join(out)}",
            )
        comp, name = parts
        if not raw.strip():
            raise ParameterError(
                f"override '{item}' has an empty value",
                where="-p/--param",
                fix=f"write -p {key.strip()}=value (null for no value, '' for an empty string)",
            )
        if comp not in out:
            close = difflib.get_close_matches(comp, list(out), n=1)
            raise ParameterError(
                f"override '{key}' names no component '{comp}'",
                where="-p/--param",
                fix=(f"did you mean '{close[0]}'? " if close else "")
                + f"components: {', '.join(out)}",
            )
        value = parse_value(raw)
        if value is raw and raw.strip()[:1] in ("[", "{"):  # YAML refused a list or mapping
            import yaml

            try:
                yaml.safe_load(raw)
            except yaml.YAMLError as e:
                problem = getattr(e, "problem", None) or str(e).splitlines()[0]
                raise ParameterError(
                    f"override '{item}': the value is not valid YAML ({problem})",
                    where="-p/--param",
                    fix="quote the whole -p argument and close every bracket, e.g. -p "
                    "'environment.wrappers=[{wrapper: TimeLimit, kwargs: "
                    "{max_episode_steps: 100}}]'",
                ) from None
        out[comp][name] = value
    return out


def apply_defaults(
    tree: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, Mapping[str, Any]],
    params_classes: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """A copy of ``tree`` with ``defaults`` filled in where nothing set the parameter.

    ``defaults`` is ``{slot: {param: value}}``; a value is used only if the component in
    ``slot`` declares ``param`` in its Params dataclass (``params_classes[slot]``) and the
    tree (spec params after ``-p`` overrides) has no value for it. A bundle cannot know
    which environment it will meet, so a default for a slot that is not installed, or for a
    field its component does not declare, is skipped, not an error.
    """
    out = {k: dict(v) for k, v in tree.items()}
    for slot, params in defaults.items():
        if slot not in out:
            logger.debug("defaults.%s: no component '%s' in the spec; skipped", slot, slot)
            continue
        cls = params_classes.get(slot)
        declared = (
            {f.name for f in dataclasses.fields(cls) if f.init}
            if dataclasses.is_dataclass(cls)
            else set()
        )
        for name, value in params.items():
            if name in out[slot]:
                continue
            if name not in declared:
                logger.debug(
                    "defaults.%s.%s: %s declares no parameter '%s'; skipped",
                    slot,
                    name,
                    getattr(cls, "__qualname__", "the component"),
                    name,
                )
                continue
            out[slot][name] = value
    return out


def declared_defaults(cls: Any) -> dict[str, Any]:
    """The default of every field of a Params dataclass that has one (else empty)."""
    if not dataclasses.is_dataclass(cls):
        return {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def resolve_references(
    tree: Mapping[str, Mapping[str, Any]],
    where: str,
    declared: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict]:
    """Replace ``${comp.param}`` references with the values they name (cycles are errors).

    A reference to a parameter the spec does not write resolves to the default its component
    declares (``declared[comp][param]``), so ``${learner.gamma}`` follows the learner's own
    default until someone sets it."""
    resolved: dict[tuple[str, str], Any] = {}
    declared = declared or {}

    def lookup(path: str, chain: tuple[str, ...], at: str) -> Any:
        if path in chain:
            cycle = " -> ".join((*chain, path))
            raise ParameterError(
                f"parameter references form a cycle: {cycle}",
                where=f"{where}: {at}",
                fix="make one of them a value instead of a reference",
            )
        comp, _, name = path.partition(".")
        if name and "." not in name and comp not in tree:
            raise ParameterError(
                f"reference '${{{path}}}': no component '{comp}' is installed",
                where=f"{where}: {at}",
                fix=f"install a {comp} (agentos install ...), or write a value for {at}",
            )
        if comp in tree and name not in tree[comp]:
            if name in declared.get(comp, {}):
                return declared[comp][name]
        if comp not in tree or name not in tree[comp]:
            raise ParameterError(
                f"reference '${{{path}}}' names no parameter",
                where=f"{where}: {at}",
                fix="refer to a parameter of an installed component as ${component.param}",
            )
        key = (comp, name)
        if key not in resolved:
            resolved[key] = value_of(tree[comp][name], (*chain, path), path)
        return resolved[key]

    def value_of(value: Any, chain: tuple[str, ...], at: str) -> Any:
        if isinstance(value, str):
            whole = _REF.fullmatch(value)
            if whole:
                return lookup(whole.group(1), chain, at)
            return _REF.sub(lambda m: str(lookup(m.group(1), chain, at)), value)
        if isinstance(value, list):
            return [value_of(v, chain, at) for v in value]
        if isinstance(value, Mapping):
            return {k: value_of(v, chain, at) for k, v in value.items()}
        return value

    out: dict[str, dict] = {}
    for comp, params in tree.items():
        out[comp] = {}
        for name, value in params.items():
            path = f"{comp}.{name}"
            out[comp][name] = value_of(value, (path,), f"{comp}.{name}")
    return out


def _type_name(tp: Any) -> str:
    """The type as a YAML user reads it: tuples and lists are ``list of int`` ([1, 2])."""
    origin = typing.get_origin(tp)
    if tp in (tuple, list) or origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if len(set(args)) == 1 else "list"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


_INT64_MAX = 2**63 - 1
"""Integer parameters end up in numpy and JAX arrays, whose integers have 64 bits."""


def _digits(value: int) -> str:
    """A huge integer, short enough for a message."""
    text = str(value)
    return text if len(text) <= 24 else f"{text[:6]}... (a number of {len(text)} digits)"


def coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against the annotation ``tp`` (ints widen to floats; lists to tuples)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except ParameterError as e:
                errors.append(e)
        raise _type_error(value, tp, where)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ParameterError(
            f"{value!r} is not one of {', '.join(map(repr, args))}",
            where=where,
            fix=f"use one of {', '.join(map(repr, args))}",
        )
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise _type_error(value, tp, where)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise _type_error(value, tp, where)
            pairs = enumerate(zip(args, value, strict=True))
            return tuple(coerce(v, a, f"{where}[{i}]") for i, (a, v) in pairs)
        item = args[0] if args else Any
        items = [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _type_error(value, tp, where)
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(value, tp, where)
    if tp is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
                raise ParameterError(
                    f"{_digits(value)} is too large for an integer parameter (at most 2**63 - 1)",
                    where=where,
                    fix="give a smaller number",
                )
            return value
        raise _type_error(value, tp, where)
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, int) and abs(value) > sys.float_info.max:
                raise ParameterError(
                    f"{_digits(value)} is too large for a number parameter",
                    where=where,
                    fix="give a finite number (NaN or infinity would make learning fail)",
                )
            if not math.isfinite(value):
                raise ParameterError(
                    f"{value!r} is not a finite number",
                    where=where,
                    fix="give a finite number (NaN or infinity would make learning fail)",
                )
            return float(value)
        raise _type_error(value, tp, where)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _type_error(value, tp, where)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _type_error(value, tp, where)


def _type_error(value: Any, tp: Any, where: str) -> ParameterError:
    return ParameterError(
        f"expected {_type_name(tp)}, got {value!r} ({type(value).__name__})",
        where=where,
        fix=f"give a value of type {_type_name(tp)}"
        + (", in brackets: [a, b]" if _type_name(tp).startswith("list") else ""),
    )


def check_keys(cls: type | None, values: Mapping[str, Any], where: str, note: str = "") -> None:
    """A key of ``values`` that is not a field of the dataclass ``cls`` fails (``note`` is
    added to the message)."""
    fields = []
    if dataclasses.is_dataclass(cls):
        fields = [f.name for f in dataclasses.fields(cls) if f.init]
    for key in values:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            known = f"known parameters: {', '.join(fields)}" if fields else "it takes none"
            raise ParameterError(
                f"unknown parameter '{key}'{note}",
                where=f"{where}.{key}",
                fix=(f"did you mean '{close[0]}'? " if close else "") + known,
            )


def check_values(cls: type | None, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` typed by the dataclass ``cls``'s fields; an unknown key or a bad type fails."""
    check_keys(cls, values, where)
    hints = typing.get_type_hints(cls)
    return {k: coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}


def build_params(cls: type, values: Mapping[str, Any], where: str) -> Any:
    """An instance of the dataclass ``cls`` from ``values``; unknown keys and bad types fail."""
    if not dataclasses.is_dataclass(cls):
        if values:
            raise ParameterError(
                f"this component takes no parameters, got {', '.join(values)}",
                where=where,
                fix="remove the params",
            )
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = check_values(cls, values, where)
    missing = [
        name
        for name, f in fields.items()
        if name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ParameterError(
            f"missing required parameter(s): {', '.join(missing)}",
            where=where,
            fix="add them under params",
        )
    try:
        return cls(**kwargs)
    except AgentOSError as e:
        if e.where is not None:
            raise
        from agentos.components.checks import parameter_fix

        message = str(e).split("\nFix:")[0]
        raise ParameterError(
            message, where=where, fix=e.fix or parameter_fix(message, where)
        ) from None
    except (ValueError, TypeError) as e:
        from agentos.components.checks import parameter_fix

        raise ParameterError(str(e), where=where, fix=parameter_fix(str(e), where)) from None


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (for tracking)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        elif dataclasses.is_dataclass(v) and not isinstance(v, type):
            out.update(flatten(dataclasses.asdict(v), key + "."))
        else:
            out[key] = v
    return out
