from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from agentos.components.params import (
    apply_defaults,
    apply_overrides,
    build_params,
    declared_defaults,
    flatten,
    parse_value,
    resolve_references,
)
from agentos.errors import ParameterError


@dataclass(frozen=True)
class P:
    lr: float = 1e-3
    steps: int = 10
    hidden: tuple[int, ...] = (64, 64)
    name: str = "x"
    flag: bool = False
    limit: int | None = None
    extra: dict = field(default_factory=dict)


def test_parse_value_reads_floats_yaml_misses():
    assert parse_value("3e-4") == 3e-4
    assert parse_value("10") == 10
    assert parse_value("true") is True
    assert parse_value("[1, 2]") == [1, 2]
    assert parse_value("CartPole-v1") == "CartPole-v1"


def test_overrides_apply_before_references_resolve():
    tree = {"replay": {"seq": 80}, "learner": {"seq": "${replay.seq}", "tag": "s${replay.seq}"}}
    tree = apply_overrides(tree, ["replay.seq=40"])
    out = resolve_references(tree, "agentos.yaml")
    assert out["learner"] == {"seq": 40, "tag": "s40"}


def test_reference_cycle_and_missing_reference():
    with pytest.raises(ParameterError, match="cycle"):
        resolve_references({"a": {"x": "${b.y}"}, "b": {"y": "${a.x}"}}, "f")
    with pytest.raises(ParameterError, match="names no parameter"):
        resolve_references({"a": {"x": "${b.z}"}, "b": {}}, "f")


def test_a_reference_to_an_unwritten_parameter_follows_its_declared_default():
    declared = {"learner": declared_defaults(P)}
    tree = {"replay": {"gamma": "${learner.lr}"}, "learner": {}}
    assert resolve_references(tree, "f", declared)["replay"] == {"gamma": 1e-3}
    tree = {"replay": {"gamma": "${learner.lr}"}, "learner": {"lr": 0.5}}
    assert resolve_references(tree, "f", declared)["replay"] == {"gamma": 0.5}
    assert declared_defaults(P)["extra"] == {} and declared_defaults(int) == {}
    with pytest.raises(ParameterError, match="names no parameter"):
        resolve_references({"replay": {"g": "${learner.nope}"}, "learner": {}}, "f", declared)
    with pytest.raises(ParameterError, match="no component 'critic' is installed") as info:
        resolve_references({"replay": {"g": "${critic.lr}"}}, "f", declared)
    assert "write a value for replay.g" in info.value.fix


def test_override_of_unknown_component_suggests():
    with pytest.raises(ParameterError, match="did you mean 'learner'"):
        apply_overrides({"learner": {}}, ["lerner.lr=1"])
    with pytest.raises(ParameterError, match="key=value"):
        apply_overrides({"learner": {}}, ["learner.lr"])


def test_override_with_an_empty_value_says_so():
    with pytest.raises(ParameterError, match="empty value") as e:
        apply_overrides({"learner": {}}, ["learner.lr= "])
    assert "-p learner.lr=value" in str(e.value)
    assert apply_overrides({"learner": {}}, ["learner.lr=''"]) == {"learner": {"lr": ""}}


def test_the_fix_for_unclosed_brackets_is_an_override_that_works():
    from agentos.envs.wrappers import WrapperSpec, parse_wrappers

    with pytest.raises(ParameterError, match="not valid YAML") as e:
        apply_overrides({"environment": {}}, ["environment.wrappers=[{wrapper: TimeLimit"])
    example = e.value.fix.rsplit("-p ", 1)[1].strip("'")
    wrappers = apply_overrides({"environment": {}}, [example])["environment"]["wrappers"]
    assert parse_wrappers(wrappers) == (WrapperSpec("TimeLimit", {"max_episode_steps": 100}),)


def test_build_params_coerces_and_checks():
    p = build_params(P, {"lr": 1, "steps": 5e4, "hidden": [32, 32], "limit": None}, "w")
    assert p == P(lr=1.0, steps=50000, hidden=(32, 32), limit=None)
    assert isinstance(p.lr, float) and isinstance(p.hidden, tuple)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lr": "fast"}, r"w\.lr: expected float, got 'fast'"),
        ({"steps": 1.5}, r"w\.steps: expected int"),
        ({"flag": 1}, r"w\.flag: expected bool"),
        ({"hidden": [1, "a"]}, r"w\.hidden\[1\]: expected int"),
        ({"limit": "no"}, r"w\.limit: expected int \| None"),
    ],
)
def test_wrong_types_name_the_key(values, message):
    with pytest.raises(ParameterError, match=message):
        build_params(P, values, "w")


def test_unknown_parameter_suggests_the_close_one():
    with pytest.raises(ParameterError, match=r"(?s)unknown parameter 'lrr'.*did you mean 'lr'"):
        build_params(P, {"lrr": 1.0}, "w")


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}


def test_defaults_fill_only_declared_unset_params(caplog):
    tree = {"env": {"steps": 3}, "other": {}}
    defaults = {"env": {"steps": 99, "lr": 0.5, "num_envs": 8}, "missing": {"steps": 1}}
    with caplog.at_level(logging.DEBUG, logger="agentos.components.params"):
        out = apply_defaults(tree, defaults, {"env": P, "other": P})
    # steps is set in the tree (kept), lr is declared and unset (filled), num_envs is not a
    # field of P and "missing" names no component (both skipped)
    assert out == {"env": {"steps": 3, "lr": 0.5}, "other": {}}
    assert tree == {"env": {"steps": 3}, "other": {}}  # the input is not mutated
    assert "declares no parameter 'num_envs'" in caplog.text
    assert "no component 'missing'" in caplog.text


def test_defaults_go_under_overrides_and_over_dataclass_defaults():
    spec_tree = {"env": {"name": "spec"}}
    defaults = {"env": {"name": "bundle", "steps": 7, "lr": 0.25}}
    tree = apply_overrides(spec_tree, ["env.lr=0.5"])
    out = build_params(P, apply_defaults(tree, defaults, {"env": P})["env"], "w")
    # -p (lr 0.5) > spec params (name "spec") > defaults (steps 7) > P defaults (flag False)
    assert (out.lr, out.name, out.steps, out.flag) == (0.5, "spec", 7, False)


def test_defaults_for_a_component_without_params_are_skipped():
    assert apply_defaults({"a": {}}, {"a": {"x": 1}}, {"a": None}) == {"a": {}}
