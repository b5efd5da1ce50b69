"""Shared fixtures: one MLflow store for the session (creating a sqlite store takes
seconds), and helpers to make agent folders and call the CLI."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Many tests (and the `agentos` processes they start) jit the same update steps; a persistent
# compilation cache shared for this session compiles each once. It is fresh per session, so a
# cached executable can never come from other code.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _jax_cache = tempfile.mkdtemp(prefix="agentos-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _jax_cache
    atexit.register(shutil.rmtree, _jax_cache, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _shared_mlflow_store(tmp_path_factory: pytest.TempPathFactory):
    """Point MLFLOW_TRACKING_URI at one sqlite store for the whole session."""
    if os.environ.get("AGENTOS_TEST_OWN_STORE"):
        yield
        return
    root = tmp_path_factory.mktemp("mlflow")
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    yield
    if previous is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = previous


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run `agentos ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from agentos.cli.main import main

    def call(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


@pytest.fixture
def agent_dir(tmp_path: Path) -> Path:
    """A fresh agent folder made by `agentos init`."""
    from agentos.cli.init_cmd import init

    folder = tmp_path / "agent"
    init(folder, None, False)
    return folder


@pytest.fixture
def failed_run(agent_dir: Path, cli) -> str:
    """The id of a DQN learn run in ``agent_dir`` that FAILED at once (its loss diverged),
    so it logged no metrics."""
    from agentos.tracking.store import list_runs

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, _, err = cli(
        "learn", "--steps", "3000", "-p", "learner.learning_rate=1e30",
        "-p", "loop.min_replay_size=200", "-p", "loop.eval_every=0", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 2 and "learning diverged" in err
    failed = list_runs(agent_dir)[0]
    assert failed.status == "FAILED"
    return failed.run_id
