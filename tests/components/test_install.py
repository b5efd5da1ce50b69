"""install / uninstall: registry entries into agentos.yaml, hashes, git sources, requirements."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from agentos.components.install import install, uninstall
from agentos.components.sources import load_component_class
from agentos.components.spec import load_spec
from agentos.errors import AgentOSError, IntegrityError, RegistryError, SpecError

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a throwaway identity; returns stdout."""
    out = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.strip()


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    """An agent folder with the minimal spec `agentos init` writes (local components)."""
    folder = tmp_path / "agent"
    folder.mkdir()
    (folder / "corridor.py").write_text("class Corridor:\n    role = 'environment'\n")
    (folder / "random_policy.py").write_text("class RandomActor:\n    role = 'actor'\n")
    spec = {
        "name": "agent",
        "components": {
            "environment": {"source": "local", "module": "corridor.py", "class": "Corridor"},
            "actor": {"source": "local", "module": "random_policy.py", "class": "RandomActor"},
        },
        "loop": {"eval_episodes": 10},
    }
    (folder / "agentos.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


@pytest.fixture
def file_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A YAML-file registry over an importable package; returns (registry path, package)."""
    pkg = f"tinycomps_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "site" / pkg
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "net.py").write_text("class Net:\n    role = 'network'\n")
    (folder / "learn.py").write_text("class Learn:\n    role = 'learner'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    index = {
        "components": {
            "tiny_net": {
                "role": "network",
                "description": "a tiny network",
                "module": f"{pkg}.net",
                "class": "Net",
                "version": "2.0.1",
                "params": {"width": 8},
            },
            "tiny_learner": {
                "role": "learner",
                "module": f"{pkg}.learn",
                "class": "Learn",
                "version": "2.0.1",
                "depends": {"network": "network"},
                "requirements": ["pyyaml>=5"],
            },
            "tiny_actor": {"role": "actor", "module": f"{pkg}.net", "class": "Net"},
        },
        "bundles": {
            "tiny": {
                "description": "net + learner",
                "components": ["tiny_net", "tiny_learner"],
                "loop": {"samples_per_insert": 4.0, "min_replay_size": 10},
                "defaults": {"environment": {"num_envs": 3}},
            }
        },
    }
    path = tmp_path / "regs" / "tiny.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(index))
    yield path, pkg
    for mod in [m for m in sys.modules if m.startswith(pkg)]:
        del sys.modules[mod]


@pytest.fixture
def git_registry(tmp_path: Path) -> tuple[Path, str, str]:
    """A git registry repo with two commits; returns (repo, first commit, second commit)."""
    repo = tmp_path / "gitreg"
    (repo / "comps").mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    index = {
        "components": {
            "git_actor": {
                "role": "actor",
                "description": "an actor from git",
                "module": "comps/actor.py",
                "class": "GitActor",
                "version": "0.3.0",
                "params": {"epsilon": 0.1},
            }
        }
    }
    (repo / "agentos-registry.yaml").write_text(yaml.safe_dump(index))
    commits = []
    for value in (1, 2):
        (repo / "comps" / "actor.py").write_text(
            "from helper import BASE\n\nclass GitActor:\n"
            f"    role = 'actor'\n    VALUE = BASE + {value}\n"
        )
        (repo / "comps" / "helper.py").write_text("BASE = 100\n")
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", f"v{value}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    return repo, commits[0], commits[1]


def test_bundle_installs_all_parts_and_loop_params(
    agent: Path, file_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pkg = file_registry
    monkeypatch.chdir(path.parent.parent)
    slots = install(agent, ["tiny"], ["regs/tiny.yaml"])  # relative to the working directory
    assert slots == ["network", "learner"]
    spec = load_spec(agent)
    assert set(spec.components) == {"environment", "actor", "network", "learner"}
    assert dict(spec.loop) == {
        "eval_episodes": 10,
        "samples_per_insert": 4.0,
        "min_replay_size": 10,
    }
    assert spec.registries == (str(path),)
    net = spec.components["network"]
    assert (net.source, net.registry_name, net.module, net.class_name, net.version) == (
        "builtin",
        "tiny_net",
        f"{pkg}.net",
        "Net",
        "2.0.1",
    )
    assert net.hash.startswith("sha256:") and dict(net.params) == {"width": 8}
    assert net.role == "network" and net.description == "a tiny network"
    learner = spec.components["learner"]
    assert dict(learner.depends) == {"network": "network"}
    assert learner.requirements == ("pyyaml>=5",)
    assert load_component_class(learner, agent).__name__ == "Learn"
    # the registry is remembered: installing again needs no --registry
    assert install(agent, ["tiny_actor"], []) == ["actor"]
    assert load_spec(agent).components["actor"].registry_name == "tiny_actor"
    assert load_spec(agent).registries == (str(path),)


def test_builtin_dqn_bundle_and_environment(agent: Path) -> None:
    slots = install(agent, ["dqn", "cartpole"], [])
    assert slots == ["network", "replay", "actor", "learner", "environment"]
    spec = load_spec(agent)
    assert spec.loop["samples_per_insert"] == 32.0 and spec.loop["min_replay_size"] == 1000
    env = spec.components["environment"]
    assert env.source == "builtin" and dict(env.params) == {"env_id": "CartPole-v1"}
    assert spec.components["actor"].registry_name == "dqn_actor"
    assert dict(spec.components["learner"].depends) == {"network": "network", "replay": "replay"}
    assert all(
        c.hash and c.hash.startswith("sha256:")
        for c in spec.components.values()
        if c.source == "builtin"
    )


def test_spaces_that_do_not_fit_warn_at_install(agent: Path, caplog) -> None:
    # the environment alone (the local actor's code is not run at install): no check
    install(agent, ["gym:Pendulum-v1"], [])
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    # then the agent: installed, with a warning naming the mismatch and the fix
    install(agent, ["dqn"], [])
    assert load_spec(agent).components["network"].registry_name == "dqn_network"
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "cannot run or learn yet" in warning and "components.network" in warning
    assert "Pendulum-v1" in warning
    assert "Fix: bin the continuous actions with gymnasium's DiscretizeAction" in warning
    caplog.clear()
    install(agent, ["cartpole"], [])  # fits: nothing to say
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_gym_id_installs_a_gym_environment(agent: Path) -> None:
    assert install(agent, ["gym:Acrobot-v1"], []) == ["environment"]
    env = load_spec(agent).components["environment"]
    assert env.registry_name == "gym:Acrobot-v1" and dict(env.params) == {"env_id": "Acrobot-v1"}
    assert env.class_name == "GymEnvironment"


def test_installing_the_same_component_again_keeps_its_written_params(
    agent: Path, caplog: pytest.LogCaptureFixture
) -> None:
    install(agent, ["gym:Acrobot-v1"], [], overrides=["environment.max_episode_steps=50"])
    install(agent, ["gym:Acrobot-v1"], [])
    params = dict(load_spec(agent).components["environment"].params)
    assert params == {"env_id": "Acrobot-v1", "max_episode_steps": 50}
    assert "kept its params max_episode_steps=50" in caplog.text
    install(agent, ["gym:Acrobot-v1"], [], overrides=["environment.max_episode_steps=60"])
    assert load_spec(agent).components["environment"].params["max_episode_steps"] == 60
    install(agent, ["gym:CartPole-v1"], [])  # another environment starts afresh
    assert dict(load_spec(agent).components["environment"].params) == {"env_id": "CartPole-v1"}


def test_unknown_name_changes_nothing(agent: Path) -> None:
    before = (agent / "agentos.yaml").read_text()
    with pytest.raises(RegistryError) as info:
        install(agent, ["cartpole", "dqn_lerner"], [])
    assert "dqn_learner" in str(info.value) and "agentos list" in str(info.value)
    assert (agent / "agentos.yaml").read_text() == before
    with pytest.raises(AgentOSError, match="nothing to install"):
        install(agent, [], [])


def test_no_spec_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="agentos init"):
        install(tmp_path, ["cartpole"], [])


def test_git_component_installed_at_a_commit(agent: Path, git_registry) -> None:
    repo, first, second = git_registry
    assert install(agent, ["git_actor"], [f"git+{repo.as_uri()}@{first}"]) == ["actor"]
    spec = load_spec(agent)
    actor = spec.components["actor"]
    assert (actor.source, actor.url, actor.commit) == ("git", repo.as_uri(), first)
    assert actor.module == "comps/actor.py" and actor.version == "0.3.0"
    assert spec.registries == (f"git+{repo.as_uri()}@{first}",)
    cls = load_component_class(actor, agent)
    assert cls.VALUE == 101  # the first commit, and sibling imports work

    checkout = agent / ".agentos" / "sources" / f"gitreg-{first[:12]}"
    (checkout / "comps" / "actor.py").write_text("class GitActor:\n    VALUE = 'tampered'\n")
    with pytest.raises(IntegrityError) as info:
        load_component_class(actor, agent)
    msg = str(info.value)
    assert "components.actor" in msg and "'git_actor' 0.3.0" in msg
    assert str(checkout / "comps" / "actor.py") in msg and first[:12] in msg
    assert f"delete {checkout}" in msg and "agentos install git_actor" in msg
    assert "local component" in msg

    # reinstalling fetches the commit's files again (an edited checkout is never accepted)
    install(agent, ["git_actor"], [])
    reinstalled = load_spec(agent).components["actor"]
    assert reinstalled.hash == actor.hash and load_component_class(actor, agent).VALUE == 101

    shutil.rmtree(checkout)  # a missing checkout is cloned again at the recorded commit
    assert load_component_class(actor, agent).VALUE == 101


def test_git_component_at_the_latest_commit(agent: Path, git_registry) -> None:
    repo, _, second = git_registry
    install(agent, ["git_actor"], [str(repo)])  # a local folder that is a git repository
    actor = load_spec(agent).components["actor"]
    assert actor.commit == second and load_component_class(actor, agent).VALUE == 102


def test_editing_a_local_component_needs_no_reinstall(agent: Path) -> None:
    spec = load_spec(agent)
    assert load_component_class(spec.components["actor"], agent).role == "actor"
    (agent / "random_policy.py").write_text("class RandomActor:\n    role = 'actor2'\n")
    spec = load_spec(agent)
    assert load_component_class(spec.components["actor"], agent).role == "actor2"


def test_failing_requirements_show_pip_and_change_nothing(agent: Path, tmp_path: Path) -> None:
    index = {
        "components": {
            "needy": {
                "role": "replay",
                "module": "json",
                "class": "JSONDecoder",
                "requirements": ["not a valid requirement !!"],
            }
        }
    }
    path = tmp_path / "needy.yaml"
    path.write_text(yaml.safe_dump(index))
    before = (agent / "agentos.yaml").read_text()
    with pytest.raises(AgentOSError, match="pip could not install") as info:
        install(agent, ["needy"], [str(path)])
    assert "not a valid requirement" in str(info.value).lower()
    assert (agent / "agentos.yaml").read_text() == before


def test_requirements_already_satisfied_skip_pip(
    agent: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentos.components.install as install_module

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="Successfully installed", stderr="")

    monkeypatch.setattr(install_module.subprocess, "run", fake_run)
    index = {
        "components": {
            "needy": {
                "role": "replay",
                "module": "json",
                "class": "JSONDecoder",
                "requirements": [
                    "pyyaml>=5",
                    "oldpkg; python_version < '3'",
                    "agentos-no-such-pkg==1.0",
                ],
            }
        }
    }
    path = tmp_path / "needy.yaml"
    path.write_text(yaml.safe_dump(index))
    install(agent, ["needy"], [str(path)])
    # pyyaml is satisfied and the marker excludes the second: pip gets only the missing one
    assert calls == [
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--",
            "agentos-no-such-pkg==1.0",
        ]
    ]
    replay = load_spec(agent).components["replay"]
    assert replay.requirements == (
        "pyyaml>=5",
        "oldpkg; python_version < '3'",
        "agentos-no-such-pkg==1.0",
    )


def test_install_replaces_the_slot(agent: Path) -> None:
    install(agent, ["uniform_replay"], [])
    install(agent, ["lunar_lander"], [])
    spec = load_spec(agent)
    assert spec.components["environment"].registry_name == "lunar_lander"
    assert spec.components["environment"].source == "builtin"
    assert spec.components["replay"].module == "agentos.replay.uniform"


def test_uninstall_by_slot_registry_name_and_bundle(agent: Path, file_registry) -> None:
    path, _ = file_registry
    install(agent, ["tiny", "uniform_replay"], [str(path)])
    assert uninstall(agent, "replay") == ["replay"]
    assert uninstall(agent, "tiny_net") == ["network"]
    install(agent, ["tiny"], [])
    assert sorted(uninstall(agent, "tiny")) == ["learner", "network"]
    assert set(load_spec(agent).components) == {"environment", "actor"}
    with pytest.raises(SpecError, match="'acter' is not installed") as info:
        uninstall(agent, "acter")
    assert "did you mean 'actor'" in str(info.value)


def test_bundle_defaults_are_written_apart_from_the_slot(agent: Path, file_registry) -> None:
    path, _ = file_registry
    install(agent, ["tiny"], [str(path)])
    raw = yaml.safe_load((agent / "agentos.yaml").read_text())
    assert raw["defaults"] == {"environment": {"num_envs": 3}}
    assert "params" not in raw["components"]["environment"]  # the env entry is untouched
    # replacing the environment afterwards keeps the bundle's defaults
    install(agent, ["cartpole"], [])
    assert {k: dict(v) for k, v in load_spec(agent).defaults.items()} == {
        "environment": {"num_envs": 3}
    }
    # the user's own default survives uninstalling the bundle; the bundle's own one goes
    raw = yaml.safe_load((agent / "agentos.yaml").read_text())
    raw["defaults"]["environment"]["max_steps"] = 10
    (agent / "agentos.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    uninstall(agent, "tiny")
    assert {k: dict(v) for k, v in load_spec(agent).defaults.items()} == {
        "environment": {"max_steps": 10}
    }


@pytest.mark.parametrize("order", [["r2d2", "cartpole"], ["cartpole", "r2d2"]])
def test_builtin_r2d2_bundle_sets_num_envs_either_order(agent: Path, order: list[str]) -> None:
    for name in order:
        install(agent, [name], [])
    spec = load_spec(agent)
    assert dict(spec.defaults["environment"]) == {"num_envs": 8}
    assert dict(spec.components["environment"].params) == {"env_id": "CartPole-v1"}
    assert "num_envs" not in (agent / "agentos.yaml").read_text().split("defaults:")[0]


def test_an_entry_with_keys_its_component_does_not_take_changes_nothing(agent: Path):
    """Such entries were written as they were: every later command failed, blaming
    agentos.yaml."""
    registry = agent / "reg.yaml"
    gym = {"role": "environment", "module": "agentos.envs.gym_env", "class": "GymEnvironment"}
    registry.write_text(
        yaml.safe_dump(
            {
                "components": {
                    "good": {**gym, "params": {"env_id": "Acrobot-v1"}},
                    "typo": {**gym, "params": {"env_id": "CartPole-v1", "num_env": 2}},
                },
                "bundles": {"odd": {"components": ["good"], "loop": {"learn_evry": 2}}},
            }
        )
    )
    before = (agent / "agentos.yaml").read_text()
    with pytest.raises(AgentOSError, match="unknown parameter 'num_env'") as info:
        install(agent, ["typo"], [str(registry)])
    assert "reg.yaml: typo.params.num_env" in info.value.where and "num_envs" in info.value.fix
    with pytest.raises(AgentOSError, match="unknown parameter 'learn_evry'") as info:
        install(agent, ["odd"], [str(registry)])
    assert info.value.where == "bundle 'odd': loop.learn_evry"
    assert (agent / "agentos.yaml").read_text() == before
    install(agent, ["good"], [str(registry)])
    assert load_spec(agent).components["environment"].params["env_id"] == "Acrobot-v1"


def test_settings_another_bundle_left_are_named(agent: Path, caplog):
    """install r2d2 then dqn silently kept R2D2's learn_every and 8 copies for DQN."""
    install(agent, ["r2d2"], [])
    with caplog.at_level("WARNING", logger="agentos.components.install"):
        install(agent, ["dqn"], [])
    kept = [r.getMessage() for r in caplog.records if "kept from before" in r.getMessage()]
    assert len(kept) == 1
    assert "loop.learn_every=8" in kept[0] and "defaults.environment.num_envs=8" in kept[0]
    assert "samples_per_insert" not in kept[0]  # dqn sets it anew
    caplog.clear()
    with caplog.at_level("WARNING", logger="agentos.components.install"):
        install(agent, ["r2d2"], [])  # sets every key the spec holds
    assert "kept from before" not in caplog.text
