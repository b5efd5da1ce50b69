"""The registry: the builtin index, YAML-file and git registries, lookups and bundles."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from agentos.components.registry import (
    REGISTRY_FILENAME,
    Bundle,
    RegistryEntry,
    load_registries,
    normalise,
    parse_location,
)
from agentos.errors import RegistryError

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]

COMPONENT = """
class Thing:
    role = "actor"
    VALUE = {value}
"""


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a throwaway identity; returns stdout."""
    out = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def make_git_registry(root: Path, value: int = 1, index: dict | None = None) -> tuple[Path, str]:
    """A git repo with ``comps/thing.py`` and an agentos-registry.yaml; returns (path, commit)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / ".git").exists():
        git(root, "init", "--quiet", "--initial-branch=main")
    (root / "comps").mkdir(exist_ok=True)
    (root / "comps" / "thing.py").write_text(COMPONENT.format(value=value))
    index = index or {
        "components": {
            "thing": {
                "role": "actor",
                "description": "a thing",
                "module": "comps/thing.py",
                "class": "Thing",
                "version": f"1.{value}",
            }
        },
        "bundles": {"things": {"components": ["thing", "cartpole"], "loop": {"x": value}}},
    }
    (root / REGISTRY_FILENAME).write_text(yaml.safe_dump(index))
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", f"value {value}")
    return root, git(root, "rev-parse", "HEAD")


def test_builtin_index_has_the_documented_entries(tmp_path: Path) -> None:
    reg = load_registries([], tmp_path)
    cartpole = reg.get("cartpole")
    assert isinstance(cartpole, RegistryEntry)
    assert (cartpole.role, cartpole.slot, cartpole.module, cartpole.class_name) == (
        "environment",
        "environment",
        "agentos.envs.gym_env",
        "GymEnvironment",
    )
    assert dict(cartpole.params) == {"env_id": "CartPole-v1"}
    assert reg.get("lunar_lander").params["env_id"] == "LunarLander-v3"
    assert reg.get("corridor").module == "agentos.envs.corridor"
    actor = reg.get("dqn_actor")
    assert actor.slot == "actor" and dict(actor.depends) == {
        "network": "network",
        "replay": "replay",
    }
    assert reg.get("dqn_learner").slot == "learner"
    assert reg.get("uniform_replay").slot == "replay"
    assert reg.get("random_actor").class_name == "RandomActor"
    dqn = reg.get("dqn")
    assert isinstance(dqn, Bundle)
    assert dqn.components == ("dqn_network", "uniform_replay", "dqn_actor", "dqn_learner")
    assert dict(dqn.loop) == {"samples_per_insert": 32.0, "min_replay_size": 1000}
    assert reg.get("random").components == ("random_actor",)
    assert all(e.origin.kind == "builtin" and e.source == "builtin" for e in reg.entries.values())


def test_bundle_resolves_to_its_entries_and_loop(tmp_path: Path) -> None:
    entries, loop = load_registries([], tmp_path).resolve("dqn")
    assert [e.slot for e in entries] == ["network", "replay", "actor", "learner"]
    assert loop["min_replay_size"] == 1000


def test_unknown_name_suggests_close_matches(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        load_registries([], tmp_path).get("cartpol")
    msg = str(info.value)
    assert "'cartpol'" in msg and "cartpole" in msg and "agentos list" in msg


def test_gym_names_resolve_to_a_gym_environment(tmp_path: Path) -> None:
    reg = load_registries([], tmp_path)
    entry = reg.get("gym:Acrobot-v1")
    assert entry.name == "gym:Acrobot-v1" and entry.slot == "environment"
    assert entry.class_name == "GymEnvironment" and dict(entry.params) == {"env_id": "Acrobot-v1"}
    assert "gym:Acrobot-v1" in reg
    with pytest.raises(RegistryError, match="names no environment id"):
        reg.get("gym:")


def test_yaml_file_registry_merges_and_overrides(tmp_path: Path) -> None:
    index = {
        "components": {
            "cartpole": {"role": "environment", "module": "mypkg.env", "class": "Env"},
            "mine": {
                "role": "replay",
                "module": "mypkg.replay",
                "class": "R",
                "requirements": ["pyyaml>=5"],
            },
        },
        "bundles": {"both": {"components": ["mine", "dqn_actor"], "loop": {"a": 1}}},
    }
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump(index))
    reg = load_registries(["reg.yaml"], tmp_path)  # relative to the agent folder
    assert reg.get("cartpole").module == "mypkg.env"  # the later registry wins
    mine = reg.get("mine")
    assert mine.slot == "replay" and mine.version == "0.0.0"
    assert mine.requirements == ("pyyaml>=5",)
    assert mine.origin.kind == "file" and mine.origin.location == str(path.resolve())
    assert mine.source == "builtin"  # an importable module
    entries, loop = reg.resolve("both")
    assert [e.name for e in entries] == ["mine", "dqn_actor"] and loop == {"a": 1}
    assert "lunar_lander" in reg  # builtin entries still there


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"role": "actor", "module": "m", "class": "C", "clas": "x"}, "did you mean 'class'"),
        ({"role": "actr", "module": "m", "class": "C"}, "did you mean 'actor'"),
        ({"role": "actor", "class": "C"}, "missing 'module'"),
        ({"role": "actor", "module": "comps/a.py", "class": "C"}, "not an importable module"),
        ({"role": "actor", "module": "m", "class": "C", "params": [1]}, "'params' must be"),
    ],
)
def test_bad_registry_entries_name_the_key(tmp_path: Path, entry: dict, message: str) -> None:
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump({"components": {"bad": entry}}))
    with pytest.raises(RegistryError, match=message) as info:
        load_registries([str(path)], tmp_path)
    assert "components.bad" in str(info.value)


def test_malformed_registry_yaml_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "reg.yaml"
    path.write_text("components:\n  a: [1,\n")
    with pytest.raises(RegistryError, match="malformed YAML") as info:
        load_registries([str(path)], tmp_path)
    assert f"{path}:" in str(info.value)


def test_bundle_with_unknown_component_fails_on_resolve(tmp_path: Path) -> None:
    path = tmp_path / "reg.yaml"
    path.write_text(yaml.safe_dump({"bundles": {"b": {"components": ["nope"]}}}))
    with pytest.raises(RegistryError, match="bundle 'b'.*'nope'"):
        load_registries([str(path)], tmp_path).resolve("b")


def test_missing_registry_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not found"):
        load_registries(["nowhere.yaml"], tmp_path)
    with pytest.raises(RegistryError, match="git\\+"):
        load_registries(["https://example.com/reg.yaml"], tmp_path)


def test_git_registry_is_cloned_at_its_commit(tmp_path: Path) -> None:
    repo, commit = make_git_registry(tmp_path / "My Registry")
    agent = tmp_path / "agent"
    agent.mkdir()
    reg = load_registries([f"git+{repo.as_uri()}"], agent)
    thing = reg.get("thing")
    assert thing.source == "git" and thing.version == "1.1"
    assert thing.origin.location == repo.as_uri() and thing.origin.commit == commit
    checkout = agent / ".agentos" / "sources" / f"my-registry-{commit[:12]}"
    assert thing.origin.checkout == checkout
    assert (checkout / "comps" / "thing.py").is_file()
    assert git(checkout, "rev-parse", "HEAD") == commit
    entries, loop = reg.resolve("things")  # a git bundle may use builtin entries
    assert [e.name for e in entries] == ["thing", "cartpole"] and loop == {"x": 1}


def test_git_registry_revisions_and_spellings(tmp_path: Path) -> None:
    repo, first = make_git_registry(tmp_path / "reg", value=1)
    git(repo, "tag", "v1")
    _, second = make_git_registry(repo, value=2)
    agent = tmp_path / "agent"
    agent.mkdir()
    cases = {
        f"git+{repo.as_uri()}": second,
        f"git+{repo.as_uri()}@{first}": first,
        f"git+{repo.as_uri()}@v1": first,
        f"git+{repo.as_uri()}@main": second,
        repo.as_uri(): second,  # plain file:// to a git repository
        f"{repo.as_uri()}@v1": first,
        str(repo): second,  # a local folder that is a git repository
        "../reg@v1": first,  # relative to the agent folder
    }
    for text, commit in cases.items():
        thing = load_registries([text], agent).get("thing")
        assert thing.origin.commit == commit, text
        assert thing.version == ("1.1" if commit == first else "1.2"), text
    with pytest.raises(RegistryError, match="revision 'nope' not found"):
        load_registries([f"git+{repo.as_uri()}@nope"], agent)


def test_git_registry_without_index_or_file(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "--quiet")
    (repo / "README").write_text("hi")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "x")
    with pytest.raises(RegistryError, match=f"no {REGISTRY_FILENAME}"):
        load_registries([str(repo)], tmp_path)
    bad = {"components": {"a": {"role": "actor", "module": "missing.py", "class": "A"}}}
    repo2, _ = make_git_registry(tmp_path / "r2", index=bad)
    with pytest.raises(RegistryError, match="'missing.py' not found") as info:
        load_registries([str(repo2)], tmp_path)
    assert "components.a.module" in str(info.value)
    escape = {"components": {"a": {"role": "actor", "module": "../x.py", "class": "A"}}}
    repo3, _ = make_git_registry(tmp_path / "r3", index=escape)
    with pytest.raises(RegistryError, match="inside the repository"):
        load_registries([str(repo3)], tmp_path)


def test_folder_that_is_not_a_git_repo(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    with pytest.raises(RegistryError, match="not a git repository"):
        load_registries([str(folder)], tmp_path / "agent")


def test_parse_location_spellings(tmp_path: Path) -> None:
    loc = parse_location("git+https://github.com/org/repo.git@v1.2", tmp_path)
    assert (loc.kind, loc.target, loc.rev) == ("git", "https://github.com/org/repo.git", "v1.2")
    loc = parse_location("git+ssh://git@github.com/org/repo.git", tmp_path)
    assert (loc.target, loc.rev) == ("ssh://git@github.com/org/repo.git", None)
    loc = parse_location("git+git@github.com:org/repo.git@main", tmp_path)
    assert (loc.target, loc.rev) == ("git@github.com:org/repo.git", "main")
    (tmp_path / "r.yaml").write_text("components: {}\n")
    assert parse_location("r.yaml", tmp_path).kind == "file"
    assert parse_location((tmp_path / "r.yaml").as_uri(), tmp_path).kind == "file"


def test_normalise_stores_local_paths_relative_to_the_agent(tmp_path: Path) -> None:
    agent = tmp_path / "agent"
    assert normalise("regs/r.yaml", agent, agent) == "regs/r.yaml"
    assert normalise("r.yaml", tmp_path, agent) == str(tmp_path / "r.yaml")
    assert normalise("git+file:///x@v1", tmp_path, agent) == "git+file:///x@v1"


def test_bundle_defaults_are_read_and_checked(tmp_path: Path) -> None:
    assert load_registries([], tmp_path).defaults("r2d2") == {"environment": {"num_envs": 8}}
    assert load_registries([], tmp_path).defaults("cartpole") == {}
    path = tmp_path / "reg.yaml"
    bad = {"bundles": {"b": {"components": ["cartpole"], "defaults": {"environment": 8}}}}
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(RegistryError, match="'bundles.b.defaults.environment' must be a mapping"):
        load_registries([str(path)], tmp_path)
