"""Build the part of an agent one Ray process needs: some roles, their dependencies, and a
stand-in where the replay would be (the replay itself lives in other processes)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def build_part(
    agent_dir: str, overrides: list[str], seed: int, roles: tuple[str, ...], replay: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """The components of ``roles`` and everything they depend on, built from the spec as the
    single-process layout builds them (same seed, so the same initial variables), with
    ``replay`` in place of the replay component. Returns ``(components, roles by name)``."""
    from agentos.components.graph import load_graph
    from agentos.components.spec import load_spec
    from agentos.runtime.compile_cache import use_compile_cache

    use_compile_cache(agent_dir)
    graph = load_graph(load_spec(agent_dir), overrides)
    by_name = {n.spec.name: n for n in graph.nodes}
    needed: set[str] = set()
    todo = [n.spec.name for n in graph.nodes if n.role in roles]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            if by_name[name].role != "replay":
                todo.extend(by_name[name].dependencies.values())
    components: dict[str, Any] = {}
    for node in graph.nodes:
        if node.spec.name not in needed:
            continue
        if node.role == "replay":
            components[node.spec.name] = replay
            continue
        deps = {arg: components[name] for arg, name in node.dependencies.items()}
        components[node.spec.name] = node.cls(node.params, graph.context(node, seed), **deps)
    return components, {n.spec.name: n.role for n in graph.nodes}


def by_role(components: dict[str, Any], roles: dict[str, str], role: str) -> Any:
    """The built component with ``role``."""
    return next(c for name, c in components.items() if roles[name] == role)


def jax_on_cpu_only() -> None:
    """Keep this process's JAX off any GPU (the learner's process has it), if JAX has not
    picked its devices yet."""
    import jax

    try:
        jax.config.update("jax_platforms", "cpu")
    except Exception as e:  # backends already initialised: keep what they are
        log.debug("JAX platforms already chosen (%s)", e)
