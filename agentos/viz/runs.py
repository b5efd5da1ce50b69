"""Learning curves of tracked runs: pick the runs, group them, make one plot."""

from __future__ import annotations

import fnmatch
import logging
import re
from pathlib import Path

from agentos.errors import AgentOSError
from agentos.viz.curves import Curve, curve
from agentos.viz.plot import save_plot

logger = logging.getLogger(__name__)

GROUPINGS = ("env", "seed", "run")
"""``--by`` values besides ``tag:NAME``."""


def _group_key(by: str, summary, details) -> str:
    if by == "env":
        return summary.env
    if by == "seed":
        return f"seed {summary.seed}"
    if by == "run":
        return summary.run_id[:8]
    name = by.split(":", 1)[1]
    return f"{name}={details.tags.get(name, details.params.get(name, '?'))}"


def plot_runs(
    agent_dir: Path,
    run_ids: list[str],
    *,
    metric: str | list[str] = "eval/return_mean",
    by: str = "env",
    out: Path | None = None,
    attach: bool = True,
) -> tuple[Path, list[Curve]]:
    """Plot metrics against env steps for ``run_ids`` (default: every learn run).

    ``metric`` is one name or several, each possibly a pattern (``train/arm_*``: Agent57's
    arm choices over time). Runs are grouped ``by`` env, seed, run or ``tag:NAME``; a group
    of several runs is drawn as its mean with a 95% bootstrap band; with several metrics, a
    curve per (metric, group). The PNG (and its data as JSON) goes to ``out`` (default
    ``<agent>/plots/<metric>.png``) and, with ``attach``, into each run's artifacts.
    """
    from agentos.tracking.store import get_run, list_runs, metric_history

    if out is not None:
        check_plot_path(Path(out))
    if by not in GROUPINGS and not re.fullmatch(r"tag:[\w.\-/]+", by):
        raise AgentOSError(
            f"cannot group runs by '{by}'",
            where="--by",
            fix=f"use one of {', '.join(GROUPINGS)} or tag:NAME (a tag or param name)",
        )
    if run_ids:
        runs = [get_run(agent_dir, run_id) for run_id in run_ids]
    else:
        runs = [get_run(agent_dir, s.run_id) for s in list_runs(agent_dir) if s.kind == "learn"]
    if not runs:
        raise AgentOSError(
            "no learn runs to plot", fix="train first (`agentos learn`), or name runs to plot"
        )
    patterns = [metric] if isinstance(metric, str) else list(metric)
    known = sorted({k for d in runs for k in d.metrics})
    names = [k for k in known if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    names.sort(key=_natural)
    if not names:
        if not known:
            states = ", ".join(f"{d.summary.run_id[:8]} {d.summary.status}" for d in runs)
            raise AgentOSError(
                f"the runs logged no metrics ({states})",
                where="--metric",
                fix="plot a run that learned for at least loop.log_every steps (see `agentos "
                "runs`); a run that failed at its start has nothing to draw",
            )
        raise AgentOSError(
            f"no run has the metric {' or '.join(repr(p) for p in patterns)}",
            where="--metric",
            fix=f"metrics these runs have: {', '.join(known)}",
        )
    if by.startswith("tag:"):
        name = by.split(":", 1)[1]
        if not any(name in d.tags or name in d.params for d in runs):
            raise AgentOSError(
                f"no run has a tag or param '{name}'",
                where="--by",
                fix="group by env, seed or run, or by tag:NAME with a NAME from `agentos runs "
                "show RUN_ID` (e.g. tag:learner.learning_rate)",
            )
    curves = []
    for name in names:
        groups: dict[str, dict[str, list[tuple[int, float]]]] = {}
        for details in runs:
            key = _group_key(by, details.summary, details)
            if len(names) > 1:
                key = (
                    f"{name} {key}"
                    if len({_group_key(by, d.summary, d) for d in runs}) > 1
                    else name
                )
            history = metric_history(agent_dir, details.summary.run_id, name)
            groups.setdefault(key, {})[details.summary.run_id] = history
        for label, group in sorted(groups.items()):
            curves.append(curve(label, group))
            if not len(curves[-1].steps) and sum(bool(h) for h in group.values()) > 1:
                logger.warning(
                    "%s: its %d runs share no stretch of env steps (different --steps or "
                    "evaluation steps), so their mean has no point; `agentos plot --by run` "
                    "draws each run",
                    label,
                    sum(bool(h) for h in group.values()),
                )
    label = names[0] if len(names) == 1 else ", ".join(patterns)
    path = Path(out) if out else Path(agent_dir) / "plots" / f"{_file_name(label)}.png"
    save_plot(curves, path, metric=label)
    if attach:
        from agentos.tracking.attach import attach_file

        for details in runs:
            attach_file(agent_dir, details.summary.run_id, path, "plots")
    return path, curves


PLOT_SUFFIXES = (".png", ".svg", ".pdf")
"""File types a plot is written as (its data goes beside it as FILE.json)."""


def check_plot_path(path: Path) -> None:
    """Refuse an ``-o`` that matplotlib cannot write, before any run is read."""
    if path.is_dir():
        raise AgentOSError(
            f"-o {path} is a folder", where="--out", fix=f"name a file, e.g. {path}/plot.png"
        )
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise AgentOSError(
            f"-o {path}: cannot draw a '{path.suffix or 'suffix-less'}' file",
            where="--out",
            fix=f"name a file ending in {', '.join(PLOT_SUFFIXES)}, e.g. plot.png",
        )
    from agentos.viz.paths import check_parent_folders

    check_parent_folders(path, "-o")


def _natural(name: str) -> list:
    """Sort key putting arm_2 before arm_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _file_name(label: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", label).strip("_") or "plot"


def plot_bench(
    agent_dir: Path,
    suite_name: str,
    current: dict[str, list[str]],
    baseline: dict[str, list[str]] | None,
    metric: str = "eval/return_mean",
) -> Path:
    """Baseline vs now per environment ({env: run ids}), as ``bench/<suite>.png``."""
    from agentos.tracking.store import metric_history

    def group(label: str, ids: list[str]) -> Curve:
        runs = {}
        for run_id in ids:
            try:
                runs[run_id] = metric_history(agent_dir, run_id, metric)
            except AgentOSError:  # a baseline run deleted from the store since
                logger.info("baseline run %s is gone from the store", run_id)
        return curve(label, runs)

    panels = {}
    for env, ids in current.items():
        curves = [group("now", ids)]
        if baseline and baseline.get(env):
            curves.insert(0, group("baseline", baseline[env]))
        panels[env] = curves
    path = Path(agent_dir) / ".agentos" / "bench" / f"{suite_name}.png"
    from agentos.viz.plot import save_panels

    return save_panels(panels, path, metric=metric)
