"""The hash of an installed component covers all its source: every file of a git checkout
(an edited helper.py next to the module is refused), and a missing hash is refused too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_install import agent, git_registry  # noqa: F401 - fixtures

from agentos.components.install import install
from agentos.components.sources import load_component_class
from agentos.components.spec import load_spec
from agentos.errors import IntegrityError


def test_edited_helper_in_a_git_checkout_is_refused(agent: Path, git_registry) -> None:  # noqa: F811
    repo, first, _ = git_registry
    install(agent, ["git_actor"], [f"git+{repo.as_uri()}@{first}"])
    actor = load_spec(agent).components["actor"]
    assert load_component_class(actor, agent).VALUE == 101
    checkout = agent / ".agentos" / "sources" / f"gitreg-{first[:12]}"
    (checkout / "comps" / "helper.py").write_text("BASE = 666\n")
    with pytest.raises(IntegrityError) as info:
        load_component_class(actor, agent)
    assert "components.actor" in str(info.value) and "other files of its checkout" in str(
        info.value
    )


@pytest.mark.parametrize("name, registry", [("cartpole", None), ("git_actor", "git")])
def test_deleted_hash_line_is_refused(agent: Path, git_registry, name, registry) -> None:  # noqa: F811
    repo, first, _ = git_registry
    install(agent, [name], [f"git+{repo.as_uri()}@{first}"] if registry else [])
    path = agent / "agentos.yaml"
    data = yaml.safe_load(path.read_text())
    slot = next(s for s, c in data["components"].items() if c.get("registry_name") == name)
    del data["components"][slot]["hash"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(IntegrityError) as info:
        load_component_class(load_spec(agent).components[slot], agent)
    message = str(info.value)
    assert f"components.{slot}.hash" in message and f"agentos install {name}" in message


def test_several_changed_builtin_components_are_named_together(agent: Path) -> None:  # noqa: F811
    from agentos.components.graph import load_graph

    install(agent, ["dqn", "cartpole"], [])
    path = agent / "agentos.yaml"
    data = yaml.safe_load(path.read_text())
    for slot in ("network", "learner"):  # as after an upgrade that changed their files
        data["components"][slot]["hash"] = "sha256:" + "0" * 64
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(IntegrityError) as info:
        load_graph(load_spec(agent))
    message = str(info.value)
    assert "2 builtin components changed" in message
    assert "agentos install dqn_network dqn_learner" in message
    install(agent, ["dqn_learner"], [])  # one left: verify's message for that component
    with pytest.raises(IntegrityError, match="the files of 'dqn_network'"):
        load_graph(load_spec(agent))
