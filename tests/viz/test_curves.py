"""Curves across seeds: alignment and the bootstrap band, against hand-worked numbers."""

from __future__ import annotations

import json

import numpy as np

from agentos.viz.curves import align, bootstrap_ci, curve
from agentos.viz.plot import save_plot


def test_align_interpolates_on_the_common_range():
    steps, values = align([[(0, 0.0), (10, 10.0), (20, 20.0)], [(5, 1.0), (15, 3.0)]])
    assert steps.tolist() == [5, 10, 15]
    np.testing.assert_allclose(values, [[5, 10, 15], [1, 2, 3]])


def test_bootstrap_of_one_run_is_the_run_and_of_equal_runs_has_no_width():
    mean, low, high = bootstrap_ci(np.array([[1.0, 2.0]]))
    assert mean.tolist() == low.tolist() == high.tolist() == [1.0, 2.0]
    mean, low, high = bootstrap_ci(np.array([[3.0], [3.0], [3.0]]))
    assert low.tolist() == high.tolist() == [3.0]


def test_bootstrap_band_brackets_the_mean_within_the_runs_range():
    values = np.array([[0.0], [10.0]])
    mean, low, high = bootstrap_ci(values, resamples=4000)
    # resampling 2 runs: means 0, 5, 5, 10 with probabilities 1/4, 1/2, 1/4
    assert mean.tolist() == [5.0] and low.tolist() == [0.0] and high.tolist() == [10.0]
    values = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    mean, low, high = bootstrap_ci(values)
    assert 0.0 < low[0] < 2.0 < high[0] < 4.0


def test_save_plot_writes_png_and_the_data_behind_it(tmp_path):
    c = curve("CartPole-v1", {"a": [(0, 1.0), (10, 3.0)], "b": [(0, 3.0), (10, 5.0)]})
    path = save_plot([c], tmp_path / "curve.png", metric="eval/return_mean")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "curve.png.json").read_text())
    assert data["curves"][0]["mean"] == [2.0, 4.0] and data["curves"][0]["runs"] == ["a", "b"]
