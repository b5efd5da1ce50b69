"""The component system is the lower layer (DESIGN.md, docs/architecture.md): importing it
imports nothing of the learning runtime, the agents, JAX or Ray."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import agentos.components

FORBIDDEN = ("agentos.runtime", "agentos.agents", "jax", "ray")


def test_importing_the_component_system_imports_no_runtime_agents_jax_or_ray() -> None:
    modules = ["agentos.components"] + [
        f"agentos.components.{m.name}" for m in pkgutil.iter_modules(agentos.components.__path__)
    ]
    assert len(modules) > 5
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    leaked = [
        name for name in loaded if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert leaked == []


def _imported(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _upward(names: set[str], upper: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == u or n.startswith(u + ".") for u in upper))


def test_no_component_module_imports_the_runtime_or_agents_even_lazily() -> None:
    folder = Path(agentos.components.__file__).parent
    upper = ("agentos.runtime", "agentos.agents", "agentos.api", "agentos.cli")
    found = {p.name: _upward(_imported(p), upper) for p in sorted(folder.glob("*.py"))}
    assert {name: up for name, up in found.items() if up} == {}


def test_tracking_rerun_does_not_import_the_api_above_it() -> None:
    import agentos.tracking.rerun as rerun

    assert _upward(_imported(Path(rerun.__file__)), ("agentos.api", "agentos.cli")) == []
