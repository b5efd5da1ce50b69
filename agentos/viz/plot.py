"""Draw curves as a PNG (matplotlib, no display needed) with their data as JSON beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path

from agentos.viz.curves import Curve


def save_plot(curves: list[Curve], path: Path, *, metric: str, title: str = "") -> Path:
    """Write ``path`` (PNG) with one line per curve and its band; ``path.json`` gets the data."""
    many = any(len(c.runs) > 1 for c in curves)
    title = title or metric + ("  (mean, 95% bootstrap CI)" if many else "")
    return save_panels({title: curves}, path, metric=metric)


def save_panels(panels: dict[str, list[Curve]], path: Path, *, metric: str) -> Path:
    """One subplot per ``{title: curves}`` entry, side by side; the data as ``path.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = min(len(panels), 3) or 1
    rows = math.ceil(len(panels) / cols) or 1
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 4 * rows), dpi=110, squeeze=False)
    for ax, (title, curves) in zip(axes.flat, panels.items(), strict=False):
        for c in curves:
            if not len(c.steps):
                continue
            n = len(c.runs)
            line = ax.plot(c.steps, c.mean, marker="o", ms=3, label=f"{c.label} (n={n})")[0]
            if n > 1:
                ax.fill_between(c.steps, c.low, c.high, alpha=0.2, color=line.get_color())
        ax.set_xlabel("env steps")
        ax.set_ylabel(metric)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    data = {
        "metric": metric,
        "panels": {t: [c.as_dict() for c in cs] for t, cs in panels.items()},
        "curves": [c.as_dict() for cs in panels.values() for c in cs],
    }
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(data, indent=1))
    return path
