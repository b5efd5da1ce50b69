"""`agentos --help` must not import heavy libraries (its speed is in benchmarks/)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("jax", "mlflow", "gymnasium", "ray", "flax", "optax")


def test_help_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from agentos.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_command_has_help(cli):
    for command in ("init", "install", "uninstall", "list", "show", "learn", "run", "runs",
                    "rerun", "ui", "bench"):  # fmt: skip
        code, out, _ = cli(command, "--help")
        assert code == 0 and "Usage" in out, command


def test_python_dash_m_runs_the_cli():
    out = subprocess.run(
        [sys.executable, "-m", "agentos", "list"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "agent57" in out.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "agentos", "nosuch"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
