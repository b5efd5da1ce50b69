"""Learning curves across runs: align histories on one step grid, mean and bootstrap band.

Several seeds of a configuration are reported the way rliable recommends (Agarwal et al.
2021, "Deep RL at the Edge of the Statistical Precipice", https://arxiv.org/abs/2108.13264):
the mean over runs with a 95% percentile-bootstrap confidence interval, resampling runs
with replacement. Pure numpy; plotting lives in ``agentos.viz.plot``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Curve:
    """One line of a plot: a group's mean over runs and its confidence band."""

    label: str
    steps: np.ndarray
    """[S] env steps."""
    mean: np.ndarray
    """[S] mean over runs."""
    low: np.ndarray
    """[S] lower end of the confidence interval (the mean itself for one run)."""
    high: np.ndarray
    """[S] upper end."""
    runs: tuple[str, ...]
    """The run ids behind the curve."""

    def as_dict(self) -> dict:
        """Plain lists, for the JSON written beside each plot."""
        return {
            "label": self.label,
            "runs": list(self.runs),
            "steps": self.steps.tolist(),
            "mean": self.mean.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
        }


def align(histories: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """(steps [S], values [R, S]) on the steps every run covers, linearly interpolated.

    The grid is the union of the runs' steps within the range all of them span (from the
    latest first step to the earliest last step), so no run is extrapolated.
    """
    histories = [sorted(h) for h in histories if h]
    if not histories:
        return np.zeros(0, np.int64), np.zeros((0, 0))
    start = max(h[0][0] for h in histories)
    stop = min(h[-1][0] for h in histories)
    grid = np.array(sorted({s for h in histories for s, _ in h if start <= s <= stop}), np.int64)
    values = np.stack(
        [np.interp(grid, [s for s, _ in h], [v for _, v in h]) for h in histories]
    ).astype(np.float64)
    return grid, values


def bootstrap_ci(
    values: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, low, high) over the runs axis of ``values`` [R, S]: the percentile bootstrap
    of the mean, resampling whole runs with replacement."""
    values = np.asarray(values, np.float64)
    mean = values.mean(axis=0)
    if values.shape[0] < 2:
        return mean, mean.copy(), mean.copy()
    rng = np.random.default_rng(seed)
    picks = rng.integers(values.shape[0], size=(resamples, values.shape[0]))
    means = values[picks].mean(axis=1)  # [resamples, S]
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail], axis=0)
    return mean, low, high


def curve(label: str, runs: dict[str, list[tuple[int, float]]], seed: int = 0) -> Curve:
    """The curve of one group of runs ({run id: history})."""
    ids = tuple(run for run, history in runs.items() if history)
    steps, values = align([runs[run] for run in ids])
    if values.size == 0:
        empty = np.zeros(0)
        return Curve(label, steps, empty, empty, empty, ids)
    mean, low, high = bootstrap_ci(values, seed=seed)
    return Curve(label, steps, mean, low, high, ids)
