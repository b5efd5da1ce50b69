from __future__ import annotations

import logging

import pytest
import yaml

from agentos.components.graph import load_graph
from agentos.components.spec import parse_spec
from agentos.errors import GraphError

COMPONENTS = """
from dataclasses import dataclass
import numpy as np
from agentos.runtime.roles import Actor, Learner, Network, Replay


class Net(Network):
    built = 0

    def __init__(self, params, context, **deps):
        super().__init__(params, context)
        Net.built += 1


class Buffer(Replay):
    pass


@dataclass(frozen=True)
class ActorParams:
    size: int = 3


class Act(Actor):
    Params = ActorParams
    requires = {"network": "network", "replay": "replay"}

    def __init__(self, params, context, network, replay):
        super().__init__(params, context)
        self.network = network


class Learn(Learner):
    requires = {"network": "network"}

    def __init__(self, params, context, network):
        super().__init__(params, context)
        self.network = network
"""


def _spec(tmp_path, components, defaults=None):
    (tmp_path / "comps.py").write_text(COMPONENTS)
    base = {
        "environment": {"module": "agentos.envs.corridor", "class": "Corridor", "source": "builtin"}
    }
    for name, cls in components.items():
        entry = {"module": "comps.py", "class": cls} if isinstance(cls, str) else cls
        base[name] = entry
    data = {"components": base}
    if defaults is not None:
        data["defaults"] = defaults
    (tmp_path / "agentos.yaml").write_text(yaml.safe_dump(data))
    return parse_spec(data, tmp_path / "agentos.yaml")


def test_shared_network_is_one_instance_built_in_order(tmp_path):
    spec = _spec(
        tmp_path, {"learner": "Learn", "actor": "Act", "network": "Net", "replay": "Buffer"}
    )
    graph = load_graph(spec)
    order = [n.spec.name for n in graph.nodes]
    assert order.index("network") < order.index("learner")
    assert order.index("network") < order.index("actor")
    assert order.index("replay") < order.index("actor")
    built = graph.build(seed=0)
    assert built.components["actor"].network is built.components["learner"].network
    assert type(built.components["network"]).built == 1


def test_explicit_dependency_with_wrong_role(tmp_path):
    spec = _spec(
        tmp_path,
        {
            "network": "Net",
            "replay": "Buffer",
            "actor": {
                "module": "comps.py",
                "class": "Act",
                "depends": {"network": "replay", "replay": "replay"},
            },
        },
    )
    with pytest.raises(GraphError, match="'network' must be a network, but 'replay' is a replay"):
        load_graph(spec)


def test_unknown_dependency_argument(tmp_path):
    spec = _spec(
        tmp_path,
        {"network": "Net", "actor": {"module": "comps.py", "class": "Net", "depends": {"x": "y"}}},
    )
    with pytest.raises(GraphError, match="takes no dependency 'x'"):
        load_graph(spec)


def test_two_actors_or_none(tmp_path):
    with pytest.raises(GraphError, match="exactly one actor, the spec has no"):
        load_graph(_spec(tmp_path, {"network": "Net"}))


def test_parameters_typed_and_overridable(tmp_path):
    spec = _spec(tmp_path, {"network": "Net", "replay": "Buffer", "actor": "Act"})
    graph = load_graph(spec, ["actor.size=7", "loop.eval_episodes=2"])
    assert graph.full_params()["actor"] == {"size": 7}
    assert graph.loop.eval_episodes == 2
    with pytest.raises(Exception, match="expected int"):
        load_graph(spec, ["actor.size=seven"])


def test_spec_defaults_rank_between_params_and_dataclass_defaults(tmp_path, caplog):
    actor = {"module": "comps.py", "class": "Act", "params": {"size": 6}}
    defaults = {"environment": {"num_envs": 4, "colour": "red"}, "actor": {"size": 5}}
    spec = _spec(tmp_path, {"network": "Net", "replay": "Buffer", "actor": actor}, defaults)
    with caplog.at_level(logging.DEBUG, logger="agentos.components.params"):
        graph = load_graph(spec)
    # num_envs: Corridor's own default is 1, the spec's defaults say 4, nothing else sets it
    assert graph.full_params()["environment"]["num_envs"] == 4 and graph.num_envs == 4
    assert graph.param_tree["environment"]["num_envs"] == 4
    assert graph.full_params()["actor"] == {"size": 6}  # the spec's params beat defaults
    assert "declares no parameter 'colour'" in caplog.text  # skipped, not an error
    graph = load_graph(spec, ["environment.num_envs=2"])  # -p beats defaults
    assert graph.full_params()["environment"]["num_envs"] == 2 and graph.num_envs == 2
    built = graph.build(seed=0)
    assert built.components["environment"].num_envs == 2


def test_a_plain_class_is_not_a_component(tmp_path):
    (tmp_path / "plain.py").write_text("class Plain:\n    pass\n")
    spec = _spec(tmp_path, {"extra": {"module": "plain.py", "class": "Plain"}})
    with pytest.raises(GraphError, match="class Plain is not an agentos component") as e:
        load_graph(spec)
    assert "role None" not in str(e.value) and "gymnasium.Env" in str(e.value)
