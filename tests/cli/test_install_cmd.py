"""`agentos install / uninstall / list` through the command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from agentos.components.spec import load_spec

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]


def make_git_registry(repo: Path) -> str:
    """A git registry with one actor; returns its commit."""
    (repo / "comps").mkdir(parents=True)
    (repo / "comps" / "actor.py").write_text("class GitActor:\n    role = 'actor'\n")
    index = {
        "components": {
            "git_actor": {
                "role": "actor",
                "description": "an actor from git",
                "module": "comps/actor.py",
                "class": "GitActor",
                "version": "0.3.0",
            }
        },
        "bundles": {
            "git_agent": {
                "description": "git actor + cartpole",
                "components": ["git_actor", "cartpole"],
            }
        },
    }
    (repo / "agentos-registry.yaml").write_text(yaml.safe_dump(index))
    for args in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "v1"]):
        subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    return out.stdout.strip()


def test_install_prints_what_was_installed(cli, agent_dir: Path) -> None:
    code, out, err = cli("install", "dqn", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    for name, slot in [
        ("dqn_network", "network"),
        ("dqn_learner", "learner"),
        ("cartpole", "environment"),
    ]:
        assert f"installed {name} -> {slot}  0.1.0  sha256:" in out
    assert "samples_per_insert" in out
    spec = load_spec(agent_dir)
    assert spec.components["environment"].registry_name == "cartpole"
    assert spec.loop["min_replay_size"] == 1000


def test_install_from_a_git_registry_then_uninstall(cli, agent_dir: Path, tmp_path: Path) -> None:
    commit = make_git_registry(tmp_path / "reg")
    code, out, err = cli(
        "install", "git_agent", "-r", f"git+{(tmp_path / 'reg').as_uri()}", "-a", agent_dir
    )
    assert code == 0, err
    assert "installed git_actor -> actor  0.3.0" in out and commit[:12] in out
    actor = load_spec(agent_dir).components["actor"]
    assert actor.source == "git" and actor.commit == commit

    code, out, _ = cli("list", "-a", agent_dir)  # the spec's registries are listed too
    assert code == 0
    assert "git_actor" in out and "git_agent" in out and "bundle" in out and "cartpole" in out

    code, out, _ = cli("uninstall", "git_agent", "-a", agent_dir)
    assert code == 0 and "uninstalled actor" in out and "uninstalled environment" in out
    assert set(load_spec(agent_dir).components) == set()


def test_unknown_name_is_one_error_message(cli, agent_dir: Path) -> None:
    code, out, err = cli("install", "lunar_landr", "--agent", agent_dir)
    assert code == 2
    assert "lunar_lander" in err and "agentos list" in err and "Traceback" not in err


def test_uninstall_unknown_is_an_error(cli, agent_dir: Path) -> None:
    code, _, err = cli("uninstall", "nothing_here", "--agent", agent_dir)
    assert code == 2 and "not installed" in err


def test_list_without_an_agent_shows_the_builtin_registry(cli, tmp_path: Path) -> None:
    code, out, err = cli("list", "--agent", tmp_path)
    assert code == 0, err
    for name in ("cartpole", "lunar_lander", "corridor", "random_actor", "dqn", "gym:<id>"):
        assert name in out


def test_r2d2_bundle_acts_in_eight_envs_unless_overridden(cli, agent_dir: Path) -> None:
    import agentos

    code, out, err = cli("install", "r2d2", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    assert "environment.num_envs': 8" in out
    agent = agentos.load_agent(agent_dir)
    assert agent.graph.num_envs == 8
    assert agent.graph.full_params()["environment"]["num_envs"] == 8
    agent = agentos.load_agent(agent_dir, ["environment.num_envs=2"])
    assert agent.graph.num_envs == 2
    assert agent.graph.full_params()["environment"]["num_envs"] == 2
    code, out, err = cli("show", "-p", "environment.num_envs=2", "--agent", agent_dir)
    assert code == 0, err
    assert "num_envs = 2" in out


def test_install_writes_checked_parameters_into_the_spec(cli, agent_dir: Path) -> None:
    code, out, err = cli(
        "install", "dqn", "cartpole", "-p", "learner.learning_rate=3e-4", "-p",
        "loop.min_replay_size=500", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    spec = load_spec(agent_dir)
    assert spec.components["learner"].params["learning_rate"] == 0.0003
    assert spec.loop["min_replay_size"] == 500
    before = (agent_dir / "agentos.yaml").read_text()
    for bad, expected in [
        ("learner.lerning_rate=1", "did you mean 'learning_rate'"),
        ("learner.learning_rate=abc", "expected float"),
        ("nowhere.x=1", "names no component 'nowhere'"),
        ("loop.bogus=1", "unknown parameter 'bogus'"),
        ("learner", "key=value"),
    ]:
        code, _, err = cli("install", "dqn", "cartpole", "-p", bad, "--agent", agent_dir)
        assert code == 2 and expected in err and "Traceback" not in err, (bad, err)
        assert (agent_dir / "agentos.yaml").read_text() == before  # nothing written


def test_install_parameter_of_a_component_without_parameters(cli, agent_dir: Path) -> None:
    code, _, err = cli("install", "cartpole", "-p", "actor.x=1", "--agent", agent_dir)
    assert code == 2 and "unknown parameter 'x'" in err and "it takes none" in err, err


def test_a_bad_registry_entry_is_named_in_its_registry(agent_dir: Path, cli) -> None:
    from tests.cli.bad_input_checks import assert_clean_exit_2

    registry = agent_dir / "reg.yaml"
    registry.write_text(
        "components:\n  foo:\n    role: environment\n    module: nomod\n    class: X\n"
    )
    before = (agent_dir / "agentos.yaml").read_text()
    code, out, err = cli("install", "foo", "--registry", registry, "--agent", agent_dir)
    assert_clean_exit_2(
        code, out, err, ("reg.yaml: foo: module 'nomod' not found", "agentos.yaml was not changed")
    )
    assert (agent_dir / "agentos.yaml").read_text() == before
