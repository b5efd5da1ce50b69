"""Bad input gets one readable message naming the file/key and the fix, exit code 2,
and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml


def _edit(agent_dir, fn):
    path = agent_dir / "agentos.yaml"
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _assert_clear_error(result, *fragments):
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert "Error:" in err
    flat = " ".join(err.split())
    assert err.startswith("Error: ") and "\n" not in err.split("Fix:")[0].strip(), err
    for fragment in fragments:
        assert fragment in flat, (fragment, err)


@pytest.fixture
def dqn_agent(agent_dir, cli):
    code, out, err = cli("install", "dqn", "cartpole", "--agent", agent_dir)
    assert code == 0, err
    return agent_dir


def test_malformed_yaml(agent_dir, cli):
    (agent_dir / "agentos.yaml").write_text("components:\n  actor: {source: local\n  x: [\n")
    _assert_clear_error(cli("run", "--agent", agent_dir), "agentos.yaml:", "malformed YAML", "Fix:")


def test_unknown_component_name(agent_dir, cli):
    _assert_clear_error(
        cli("install", "cartpol", "--agent", agent_dir),
        "cartpol",
        "close matches: cartpole",
        "agentos list",
    )


def test_unknown_parameter_key(dqn_agent, cli):
    _assert_clear_error(
        cli("learn", "--steps", "10", "-p", "learner.learning_rat=0.1", "--agent", dqn_agent),
        "-p learner.learning_rat",
        "unknown parameter",
        "did you mean 'learning_rate'",
    )


def test_wrong_parameter_type(dqn_agent, cli):
    _edit(dqn_agent, lambda d: d["components"]["learner"]["params"].update(batch_size="big"))
    _assert_clear_error(
        cli("learn", "--steps", "10", "--agent", dqn_agent),
        "agentos.yaml: components.learner.params.batch_size",
        "expected int",
    )


def test_dependency_cycle(agent_dir, cli):
    (agent_dir / "loopy.py").write_text(
        "from agentos.runtime.roles import Network, Replay\n"
        "class A(Network):\n    requires = {'other': 'replay'}\n"
        "class B(Replay):\n    requires = {'other': 'network'}\n"
    )

    def add(d):
        d["components"]["a"] = {"module": "loopy.py", "class": "A", "depends": {"other": "b"}}
        d["components"]["b"] = {"module": "loopy.py", "class": "B", "depends": {"other": "a"}}

    _edit(agent_dir, add)
    _assert_clear_error(cli("run", "--agent", agent_dir), "dependency cycle", "a -> b -> a")


def test_missing_dependency(dqn_agent, cli):
    assert cli("uninstall", "uniform_replay", "--agent", dqn_agent)[0] == 0
    _assert_clear_error(
        cli("run", "--agent", dqn_agent),
        "components.actor.depends.replay",
        "not a component of this agent",
        "install a replay",
    )


def test_unknown_gymnasium_id(agent_dir, cli):
    # install refuses an unknown id now (tests/cli/test_bad_inputs.py); a spec edited by hand
    # still gets the same message at run
    assert cli("install", "gym:CartPole-v1", "--agent", agent_dir)[0] == 0
    _edit(agent_dir, lambda d: d["components"]["environment"]["params"].update(env_id="CartPol-v1"))
    _assert_clear_error(
        cli("run", "--agent", agent_dir),
        "components.environment.params",
        "unknown gymnasium environment id 'CartPol-v1'",
        "CartPole-v1",
    )


def test_continuous_action_env_with_dqn(dqn_agent, cli):
    assert cli("install", "gym:Pendulum-v1", "--agent", dqn_agent)[0] == 0
    _assert_clear_error(
        cli("learn", "--steps", "10", "--agent", dqn_agent),
        "agentos.yaml: components.network",
        "Pendulum-v1",
        "discrete action",
    )


def test_hash_mismatch_of_installed_component(dqn_agent, cli):
    _edit(dqn_agent, lambda d: d["components"]["learner"].update(hash="sha256:" + "0" * 64))
    _assert_clear_error(cli("run", "--agent", dqn_agent), "components.learner", "agentos install")


def test_resume_without_checkpoint(dqn_agent, cli):
    _assert_clear_error(
        cli("learn", "--resume", "--steps", "10", "--agent", dqn_agent),
        "--resume found no checkpoint",
        "without --resume",
    )


def test_wrong_override_syntax(agent_dir, cli):
    _assert_clear_error(cli("run", "-p", "actor", "--agent", agent_dir), "key=value")


def test_debug_shows_traceback(agent_dir):
    (agent_dir / "agentos.yaml").write_text("components: [\n")
    plain = subprocess.run(
        [sys.executable, "-m", "agentos.cli.main", "run", "--agent", str(agent_dir)],
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr and "malformed YAML" in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "agentos.cli.main", "--debug", "run", "--agent", str(agent_dir)],
        capture_output=True,
        text=True,
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_missing_dependency_by_role(dqn_agent, cli):
    def drop(d):
        del d["components"]["replay"]
        del d["components"]["actor"]["depends"]

    _edit(dqn_agent, drop)
    _assert_clear_error(
        cli("run", "--agent", dqn_agent), "missing dependency", "needs a replay", "Fix:"
    )
