"""The agent as a picture: components by role, who uses whom, and the data flow.

``graph_lines`` is the terminal version; ``draw_graph`` draws the same with matplotlib (SVG,
PNG or PDF; graphviz is not needed): one column per role, dependency arrows (dashed, "uses"),
the data flow env -> actor -> replay -> learner -> actor (solid), and a note on components
that several others share (one instance, e.g. the network of actor and learner).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROLE_COLOUR = {
    "environment": "#d8ecd8",
    "actor": "#dde7f7",
    "replay": "#f7ecd2",
    "learner": "#f4dada",
    "network": "#e8e0f3",
}
DATA_FLOW = (
    ("environment", "actor", "observation, reward"),
    ("actor", "environment", "action"),
    ("actor", "replay", "transitions / sequences"),
    ("replay", "learner", "sampled batches"),
    ("learner", "replay", "priorities"),
    ("learner", "actor", "variables"),
)
"""(from role, to role, what travels)."""


def _nodes(graph: Any) -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, role, class name, {argument: dependency}) per component, in build order."""
    return [(n.spec.name, n.role, n.cls.__name__, dict(n.dependencies)) for n in graph.nodes]


def shared(graph: Any) -> dict[str, list[str]]:
    """{component: the components that depend on it}, for those used by two or more."""
    users: dict[str, list[str]] = {}
    for name, _, _, deps in _nodes(graph):
        for target in deps.values():
            users.setdefault(target, []).append(name)
    return {k: v for k, v in users.items() if len(v) > 1}


def graph_lines(graph: Any) -> list[str]:
    """The graph as plain text lines."""
    roles = {role: name for name, role, _, _ in _nodes(graph)}
    lines = ["components:"]
    for name, role, cls, deps in _nodes(graph):
        uses = ", ".join(f"{arg} -> {t}" for arg, t in deps.items())
        lines.append(f"  {name} [{role}] {cls}" + (f"  uses {uses}" if uses else ""))
    for target, users in shared(graph).items():
        lines.append(f"  {target} is one instance shared by {', '.join(users)}")
    lines.append("data flow:")
    for src, dst, what in DATA_FLOW:
        if src in roles and dst in roles:
            lines.append(f"  {roles[src]} -> {roles[dst]}: {what}")
    return lines


GRAPH_SUFFIXES = (".svg", ".png", ".pdf")
"""File types ``draw_graph`` writes."""


def check_graph_path(path: Path) -> None:
    """Refuse a ``--graph`` file matplotlib cannot write, before any work."""
    from agentos.errors import AgentOSError

    if Path(path).suffix.lower() not in GRAPH_SUFFIXES:
        raise AgentOSError(
            f"--graph {path}: cannot draw a '{Path(path).suffix or 'suffix-less'}' file",
            fix=f"name a file ending in {', '.join(GRAPH_SUFFIXES)}, e.g. graph.svg",
        )
    if Path(path).is_dir():
        raise AgentOSError(f"--graph {path} is a folder", fix=f"name a file, e.g. {path}/graph.svg")
    from agentos.viz.paths import check_parent_folders

    check_parent_folders(Path(path), "--graph")


def draw_graph(graph: Any, path: Path, title: str = "") -> Path:
    """Draw the graph with matplotlib into ``path`` (.svg, .png or .pdf, by its suffix)."""
    check_graph_path(path)
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # names stay text in the SVG (searchable)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    nodes = _nodes(graph)
    roles = {role: name for name, role, _, _ in nodes}
    pos: dict[str, tuple[float, float]] = {}
    lane = ("environment", "actor", "replay", "learner")
    for i, role in enumerate(lane):  # the data flow, left to right
        if role in roles:
            pos[roles[role]] = (i * 3.2, 0.0)
    others = [name for name, _, _, _ in nodes if name not in pos]
    users = {name: [n for n, _, _, deps in nodes if name in deps.values()] for name in others}
    for k, name in enumerate(others):  # below the components that use it
        xs = [pos[u][0] for u in users[name] if u in pos] or [k * 3.2]
        pos[name] = (sum(xs) / len(xs), -2.4 - 1.4 * (k // 2))
    fig, ax = plt.subplots(figsize=(12, 5.2), dpi=110)

    half_w, half_h = 1.15, 0.45

    def arrow(start, end, label: str, dashed: bool, rad: float, text_at) -> None:
        style = {"arrowstyle": "-|>", "lw": 1.3, "shrinkA": 2, "shrinkB": 2,
                 "linestyle": "--" if dashed else "-", "color": "#666" if dashed else "#222",
                 "connectionstyle": f"arc3,rad={rad}"}  # fmt: skip
        ax.annotate("", xy=end, xytext=start, arrowprops=style)
        ax.text(*text_at, label, ha="center", fontsize=8, color="#666" if dashed else "#222",  # type: ignore[call-arg]
                style="italic" if dashed else "normal")  # fmt: skip

    flows = set()
    for src, dst, what in DATA_FLOW:
        if src not in roles or dst not in roles:
            continue
        a, b = roles[src], roles[dst]
        (xa, ya), (xb, yb) = pos[a], pos[b]
        flows |= {(a, b), (b, a)}
        if abs(xb - xa) > 4:  # learner -> actor, over the top
            start, end = (xa - 0.3, ya + half_h), (xb + 0.3, yb + half_h)
            arrow(start, end, what, False, 0.35, ((xa + xb) / 2, ya + half_h + 1.25))
        elif xb > xa:  # forward along the lane, upper half of the boxes
            start, end = (xa + half_w, ya + 0.15), (xb - half_w, yb + 0.15)
            arrow(start, end, what, False, 0.0, ((xa + xb) / 2, ya + 0.62))
        else:  # backward, lower half
            start, end = (xa - half_w, ya - 0.2), (xb + half_w, yb - 0.2)
            arrow(start, end, what, False, 0.0, ((xa + xb) / 2, ya - 0.7))
    for name, _, _, deps in nodes:
        for arg, target in deps.items():
            if (name, target) not in flows:
                (xa, ya), (xb, yb) = pos[name], pos[target]
                start, end = (xa, ya - half_h), (xb, yb + half_h)
                arrow(start, end, f"uses ({arg})", True, 0.0, ((xa + xb) / 2 + 0.4, (ya + yb) / 2))
    sharing = shared(graph)
    for name, role, cls, _ in nodes:
        x, y = pos[name]
        ax.add_patch(FancyBboxPatch((x - 1.15, y - 0.45), 2.3, 0.9,
                                    boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc=ROLE_COLOUR.get(role, "#eee"), ec="#555"))  # fmt: skip
        note = role + (f", one instance for {len(sharing[name])}" if name in sharing else "")
        ax.text(x, y + 0.18, name, ha="center", fontsize=10, weight="bold")
        ax.text(x, y - 0.05, cls, ha="center", fontsize=8.5)
        ax.text(x, y - 0.28, note, ha="center", fontsize=7.5, color="#555")
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.8)
    ax.set_title(title or "agent", fontsize=12)
    ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
