from __future__ import annotations

import pytest

from agentos.components.spec import load_spec, parse_spec
from agentos.errors import SpecError


def test_template_spec_parses(agent_dir):
    spec = load_spec(agent_dir)
    assert list(spec.components) == ["environment", "actor"]
    assert spec.components["environment"].source == "local"
    assert spec.components["actor"].class_name == "RandomActor"


def test_malformed_yaml_names_line(tmp_path):
    (tmp_path / "agentos.yaml").write_text("components:\n  env: {source: local\n  x: 1\n")
    with pytest.raises(SpecError, match=r"agentos.yaml:\d+:\d+: malformed YAML"):
        load_spec(tmp_path)


def test_missing_spec_says_init(tmp_path):
    with pytest.raises(SpecError, match="agentos init"):
        load_spec(tmp_path)


def test_unknown_component_key_suggests(tmp_path):
    data = {"components": {"env": {"module": "m.py", "class": "C", "parms": {}}}}
    with pytest.raises(SpecError, match=r"(?s)unknown key .parms.*did you mean .params."):
        parse_spec(data, tmp_path / "agentos.yaml")


def test_depends_list_form_and_bad_source(tmp_path):
    data = {"components": {"a": {"module": "m.py", "class": "C", "depends": ["net"]}}}
    spec = parse_spec(data, tmp_path / "agentos.yaml")
    assert dict(spec.components["a"].depends) == {"net": "net"}
    data["components"]["a"]["source"] = "http"
    with pytest.raises(SpecError, match="unknown source 'http'"):
        parse_spec(data, tmp_path / "agentos.yaml")


def test_defaults_parse_by_slot(tmp_path):
    data = {
        "components": {"env": {"module": "m.py", "class": "C"}},
        "defaults": {"environment": {"num_envs": 8}},
    }
    spec = parse_spec(data, tmp_path / "agentos.yaml")
    assert {k: dict(v) for k, v in spec.defaults.items()} == {"environment": {"num_envs": 8}}
    assert dict(parse_spec({"components": {}}, tmp_path / "agentos.yaml").defaults) == {}


@pytest.mark.parametrize(
    ("defaults", "message", "key"),
    [
        ([8], "'defaults' must be a mapping", "agentos.yaml: defaults"),
        ({"environment": 8}, "'defaults.environment' must be a mapping", "defaults.environment"),
        ({"environment": [1]}, "got list", "defaults.environment"),
        ({"my env": {"n": 1}}, "'my env' in 'defaults' is not a component slot", "defaults"),
        ({"environment": {"num envs": 8}}, "'num envs' in 'defaults.environment'", "defaults"),
    ],
)
def test_invalid_defaults_name_the_key(tmp_path, defaults, message, key):
    data = {"components": {"env": {"module": "m.py", "class": "C"}}, "defaults": defaults}
    with pytest.raises(SpecError, match=message) as info:
        parse_spec(data, tmp_path / "agentos.yaml")
    assert key in str(info.value)


def test_misspelt_defaults_key_suggests(tmp_path):
    with pytest.raises(SpecError, match="did you mean 'defaults'"):
        parse_spec({"components": {}, "default": {}}, tmp_path / "agentos.yaml")


C = {"module": "m.py", "class": "C"}


@pytest.mark.parametrize(
    "data, where",
    [
        ({"components": {"actor": "dqn_actor"}}, "components.actor"),
        ({"components": {"actor": {**C, "params": [1, 2]}}}, "components.actor.params"),
        ({"components": {}, "loop": 5}, "loop"),
        ({"components": {}, "registries": "foo"}, "registries"),
        ({"components": {}, "registries": [123]}, "registries"),
        ({"components": {}, "bench": [1]}, "bench"),
        ({"components": {}, "name": [1]}, "name"),
    ],
)
def test_wrong_shapes_name_the_key_and_a_fix(tmp_path, data, where):
    with pytest.raises(SpecError) as e:
        parse_spec(data, tmp_path / "agentos.yaml")
    assert e.value.where == f"{tmp_path / 'agentos.yaml'}: {where}"
    assert e.value.fix, str(e.value)


def test_a_folder_named_agentos_yaml_is_not_a_missing_spec(tmp_path):
    (tmp_path / "agentos.yaml").mkdir()
    with pytest.raises(SpecError, match="is a folder, not an agent spec file"):
        load_spec(tmp_path)
