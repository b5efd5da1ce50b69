"""`agentos show`: the resolved spec (every parameter) and the dependency graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentos.cli.common import AgentOption, ParamOption


def show(
    param: list[str] = ParamOption,
    agent: Path = AgentOption,
    graph_file: Path = typer.Option(
        None,
        "--graph",
        help="Also draw the component graph and data flow into this file (.svg, .png, .pdf).",
    ),
) -> int:
    """Print each component with its source, resolved parameters and dependencies."""
    from rich.tree import Tree

    from agentos.api import load_agent
    from agentos.cli.console import console, escape

    if graph_file is not None:
        from agentos.viz.graph import check_graph_path

        check_graph_path(graph_file)
    loaded = load_agent(agent, param)
    suites = _bench_suites(loaded.spec)
    graph = loaded.graph
    full = graph.full_params()
    root = Tree(f"[bold]{escape(loaded.spec.name)}[/] ({escape(str(loaded.spec.path))})")
    for node in graph.nodes:
        c = node.spec
        origin = c.registry_name or c.module
        label = (
            f"[bold cyan]{escape(c.name)}[/] [dim]{node.role}[/] {escape(node.cls.__name__)} "
            f"[dim]from {c.source}:{escape(origin)}"
            + (f" v{c.version}" if c.version else "")
            + "[/]"
        )
        branch = root.add(label)
        if node.dependencies:
            deps = ", ".join(f"{a} -> {t}" for a, t in node.dependencies.items())
            branch.add(f"[magenta]depends[/] {escape(deps)}")
        for key, value in full[c.name].items():
            branch.add(f"{escape(key)} = {escape(repr(value))}")
    loop = root.add("[bold cyan]loop[/]")
    for key, value in full["loop"].items():
        loop.add(f"{escape(key)} = {escape(repr(value))}")
    console.print(root)
    order = " -> ".join(n.spec.name for n in graph.nodes)
    console.print(f"build order: {order}")
    console.print(
        f"spaces: observation {escape(str(graph.observation_space))}, "
        f"action {escape(str(graph.action_space))}"
    )
    for name, suite in suites.items():
        console.print(
            f"bench suite {escape(name)}: envs {escape(', '.join(suite.envs))}; seeds "
            f"{', '.join(str(s) for s in suite.seeds)}; {suite.steps:,} steps"
        )
    if graph_file is not None:
        from agentos.viz.graph import draw_graph, graph_lines

        for line in graph_lines(graph):
            console.print(escape(line), highlight=False)
        draw_graph(graph, graph_file, title=loaded.spec.name)
        console.print(f"[green]Wrote[/] {escape(str(graph_file))}")
    return 0


def _bench_suites(spec: Any) -> dict[str, Any]:
    """The spec's own ``bench:`` suites, each checked now (not first when it is run)."""
    from agentos.bench.runner import check_suite_envs
    from agentos.bench.suites import get_suite

    suites = {name: get_suite(name, spec.bench, str(spec.path)) for name in spec.bench}
    for name, suite in suites.items():
        check_suite_envs(spec, name, suite)
    return suites
