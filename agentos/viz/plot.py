"""Draw curves as a PNG (matplotlib, no display needed) with their data as JSON beside it."""

from __future__ import annotations

import json
from pathlib import Path

from agentos.viz.curves import Curve


def save_plot(curves: list[Curve], path: Path, *, metric: str, title: str = "") -> Path:
    """Write ``path`` (PNG) with one line per curve and its band; ``path.json`` gets the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for c in curves:
        if not len(c.steps):
            continue
        n = len(c.runs)
        line = ax.plot(c.steps, c.mean, marker="o", ms=3, label=f"{c.label} (n={n})")[0]
        if n > 1:
            ax.fill_between(c.steps, c.low, c.high, alpha=0.2, color=line.get_color())
    ax.set_xlabel("env steps")
    ax.set_ylabel(metric)
    ax.set_title(title or metric + ("  (mean, 95% bootstrap CI)" if _many(curves) else ""))
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    data = {"metric": metric, "curves": [c.as_dict() for c in curves]}
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(data, indent=1))
    return path


def _many(curves: list[Curve]) -> bool:
    return any(len(c.runs) > 1 for c in curves)
