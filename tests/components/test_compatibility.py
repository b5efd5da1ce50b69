"""What components expect of their dependencies: the check, and the builtin declarations."""

from __future__ import annotations

import importlib

import pytest

from agentos.components.compatibility import CAPABILITIES, check_compatibility
from agentos.errors import IncompatibleComponentsError


class _Net:
    role = "network"
    provides = ("recurrent_q_values",)


class _Undeclared:
    role = "network"


class _Actor:
    role = "actor"
    expects = {"network": "q_values"}


def test_a_dependency_without_what_is_expected_is_refused_with_the_component_to_install():
    with pytest.raises(IncompatibleComponentsError) as info:
        check_compatibility(
            {"actor": _Actor, "network": _Net}, {"actor": {"network": "network"}}, "a.yaml"
        )
    text = str(info.value)
    assert text.startswith("a.yaml: components.actor: _Actor needs a network with feed-forward")
    assert "'network' is _Net, which has recurrent Q-values" in text
    assert info.value.fix.startswith(
        "agentos install dqn_network (it replaces the current network)"
    )


def test_undeclared_classes_are_duck_typed():
    """Third-party components that declare nothing keep working."""
    check_compatibility(
        {"actor": _Actor, "network": _Undeclared}, {"actor": {"network": "network"}}, "a.yaml"
    )


def _builtin_classes() -> tuple[dict, dict]:
    from agentos.components.registry import _builtin_data

    data = _builtin_data()
    classes = {
        name: getattr(importlib.import_module(e["module"]), e["class"])
        for name, e in data["components"].items()
    }
    return data, classes


def _wired(by_role: dict) -> tuple[dict, dict]:
    """(classes, dependencies) of one component per role, each dependency by its role."""
    deps = {
        role: {a: t for a, t in getattr(cls, "requires", {}).items() if t in by_role}
        for role, cls in by_role.items()
    }
    return by_role, deps


def test_every_builtin_bundle_fits_together():
    data, classes = _builtin_classes()
    for bundle, entry in data["bundles"].items():
        check_compatibility(
            *_wired({classes[c].role: classes[c] for c in entry["components"]}), bundle
        )


def test_each_capability_names_a_builtin_component_that_provides_it():
    data, classes = _builtin_classes()
    for capability, (_, component) in CAPABILITIES.items():
        assert capability in classes[component].provides, capability
    declared = {p for cls in classes.values() for p in getattr(cls, "provides", ())}
    declared |= {w for cls in classes.values() for w in getattr(cls, "expects", {}).values()}
    assert declared == set(CAPABILITIES)


@pytest.mark.parametrize(
    ("bundle", "component"),
    [
        ("r2d2", "uniform_replay"),
        ("agent57", "dqn_learner"),
        ("dqn", "recurrent_q_network"),
        ("r2d2", "dqn_network"),
        ("agent57", "recurrent_q_network"),
        ("agent57", "r2d2_learner"),
        ("r2d2", "agent57_learner"),
        ("dqn", "sequence_replay"),
        ("cql", "sequence_replay"),
    ],
)
def test_builtin_components_of_two_agents_do_not_fit(bundle, component):
    data, classes = _builtin_classes()
    chosen = {classes[c].role: classes[c] for c in data["bundles"][bundle]["components"]}
    chosen[classes[component].role] = classes[component]
    with pytest.raises(IncompatibleComponentsError):
        check_compatibility(*_wired(chosen), "agentos.yaml")
