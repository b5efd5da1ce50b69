"""The wheel: built from a copy of the source tree, it holds the package data (registry YAML,
templates, py.typed) under the distribution name ``agentos-rl`` with the ``agentos`` CLI, and
installed on its own (``pip install --target``) it runs ``agentos init . && agentos run``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "agentos", src / "agentos", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), "-q"],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_package_data_the_cli_and_its_name(wheel: Path) -> None:
    assert wheel.name.startswith("agentos_rl-")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "agentos/registry/builtin.yaml" in names
    assert "agentos/templates/corridor.py" in names
    assert "agentos/py.typed" in names
    assert "agentos/cli/init_cmd.py" in names
    info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "agentos = agentos.cli.main:main" in zipfile.ZipFile(wheel).read(info).decode()
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "Name: agentos-rl" in zipfile.ZipFile(wheel).read(meta).decode()


def test_the_installed_wheel_inits_and_runs_an_agent(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target)]
        + [str(wheel)],
        check=True,
        timeout=300,
    )
    agent = tmp_path / "agent"
    agent.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    cli = [sys.executable, "-c", "import sys; from agentos.cli.main import main; sys.exit(main())"]

    def run(*args: str) -> str:
        proc = subprocess.run(
            [*cli, *args], cwd=agent, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    where = subprocess.run(
        [sys.executable, "-c", "import agentos; print(agentos.__file__)"],
        cwd=agent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(target))  # the wheel's copy, not the source tree
    run("init", ".")
    assert (agent / "agentos.yaml").is_file() and (agent / "corridor.py").is_file()
    assert "mean return" in run("run", "--episodes", "2")
