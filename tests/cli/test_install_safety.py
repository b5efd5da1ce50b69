"""Nothing runs that the user did not ask for: pip only with valid requirements, after
``--``, shown and agreed to; git never runs a registry folder's own hooks or fsmonitor; a
local module outside the agent folder only when the spec allows it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from bad_input_checks import edit, registry_with, replace_actor


def test_install_never_runs_pip_without_consent(agent_dir: Path, cli, monkeypatch) -> None:
    import agentos.components.install as install_module

    def no_pip(cmd, **kwargs):  # pragma: no cover - reached only on a regression
        raise AssertionError(f"pip ran: {cmd}")

    monkeypatch.setattr(install_module.subprocess, "run", no_pip)
    for requirements in (["--dry-run", "--no-index", "/tmp/pkg"], ["agentos-no-such-pkg==1"]):
        command = registry_with(requirements)(agent_dir)
        code, out, err = cli(*command)
        assert code == 2 and "Traceback" not in out + err


def test_install_with_yes_passes_requirements_after_double_dash(
    agent_dir: Path, cli, monkeypatch
) -> None:
    import agentos.components.install as install_module

    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, stdout="ok", stderr="")

    monkeypatch.setattr(install_module.subprocess, "run", fake_run)
    code, out, err = cli(*registry_with(["agentos-no-such-pkg==1.0"], "--yes")(agent_dir))
    assert code == 0, err
    assert "pip install -- agentos-no-such-pkg==1.0" in " ".join(err.split())
    assert calls and calls[0][-2:] == ["--", "agentos-no-such-pkg==1.0"]
    spec = yaml.safe_load((agent_dir / "agentos.yaml").read_text())
    assert spec["components"]["replay"]["requirements"] == ["agentos-no-such-pkg==1.0"]


def test_registry_folder_git_config_runs_nothing(agent_dir: Path, cli, tmp_path: Path) -> None:
    """`list --registry FOLDER` must not run the folder's fsmonitor or hooks."""
    folder = tmp_path / "reg"
    folder.mkdir()
    marker = tmp_path / "ran"

    def git(*a: str) -> None:
        subprocess.run(["git", *a], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    (folder / "agentos-registry.yaml").write_text("components: {}\n")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "registry")
    git("config", "core.fsmonitor", f"touch {marker}; false")
    hooks = folder / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "pre-commit", "post-index-change"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (hooks / hook).chmod(0o755)
    git("config", "core.hooksPath", str(hooks))
    (folder / "agentos-registry.yaml").write_text("components: {}\n# edited\n")
    code, out, err = cli("list", "--registry", folder, "--agent", agent_dir)
    assert code == 0, err
    assert not marker.exists(), "the registry folder's git config ran a program"


def test_outside_module_allowed_when_the_spec_says_so(agent_dir: Path, cli) -> None:
    outside = agent_dir.parent / "shared_actor.py"
    outside.write_text((agent_dir / "random_policy.py").read_text())
    edit(lambda d: replace_actor(d, "../shared_actor.py", allow_outside_agent=True), "show")(
        agent_dir
    )
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err


def test_runs_limit_one_shows_runs(agent_dir: Path, cli) -> None:
    assert cli("run", "-e", "1", "--agent", agent_dir)[0] == 0
    code, out, err = cli("runs", "--limit", "1", "--agent", agent_dir)
    assert code == 0 and "No runs yet" not in out
