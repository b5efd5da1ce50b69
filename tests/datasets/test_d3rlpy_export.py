"""The d3rlpy anchor of benchmarks/offline_cartpole.py: the arrays handed to d3rlpy's
MDPDataset give exactly the dataset's transitions, and the worker never imports agentos."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import numpy as np

from agentos.datasets import storage
from tests.datasets.helpers import write

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _benchmark(name: str = "offline_cartpole"):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _d3rlpy_transitions(arrays: dict) -> dict:
    """The transitions d3rlpy 2.8's MDPDataset makes of flat arrays (EpisodeGenerator and
    BasicTransitionPicker): episodes end at a terminal or timeout row; every row of a
    terminated episode is a transition (the last one terminal, next observation zeros), every
    row but the last of a timed-out one (next observation: the following row)."""
    out = {k: [] for k in ("observation", "action", "reward", "next_observation", "terminal")}
    start = 0
    for end in np.flatnonzero(arrays["terminals"] + arrays["timeouts"]):
        terminated = bool(arrays["terminals"][end])
        obs = arrays["observations"][start : end + 1]
        count = len(obs) if terminated else len(obs) - 1
        for i in range(count):
            last = terminated and i == count - 1
            out["observation"].append(obs[i])
            out["action"].append(arrays["actions"][start + i])
            out["reward"].append(arrays["rewards"][start + i])
            out["next_observation"].append(np.zeros_like(obs[i]) if last else obs[i + 1])
            out["terminal"].append(last)
        start = end + 1
    return {k: np.asarray(v) for k, v in out.items()}


def test_d3rlpy_arrays_give_the_datasets_transitions(tmp_path):
    folder, episodes = write(tmp_path, lengths=(3, 1, 5, 4))  # the last one truncated
    arrays = _benchmark("d3rlpy_anchor").mdp_arrays(tmp_path, "toy-v0")
    # terminated episodes give T rows, the truncated one T + 1 (its final observation)
    assert len(arrays["observations"]) == 3 + 1 + 5 + 5
    assert arrays["terminals"].sum() == 3 and arrays["timeouts"].sum() == 1
    ours, _, _ = storage.read_transitions(folder, "toy-v0")
    theirs = _d3rlpy_transitions(arrays)
    np.testing.assert_array_equal(theirs["observation"], ours.observation)
    np.testing.assert_array_equal(theirs["action"], ours.action)
    np.testing.assert_array_equal(theirs["reward"], ours.reward)
    np.testing.assert_array_equal(theirs["terminal"], ours.terminated)
    bootstrap = ~ours.terminated  # where the next observation matters
    np.testing.assert_array_equal(
        theirs["next_observation"][bootstrap], ours.next_observation[bootstrap]
    )


def test_the_d3rlpy_worker_imports_no_agentos():
    tree = ast.parse((BENCHMARKS / "d3rlpy_cql_worker.py").read_text())
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = {"__future__", "argparse", "contextlib", "json", "sys", "time"}
    assert imported <= allowed | {"d3rlpy", "numpy", "gymnasium", "torch"}, imported


def test_standard_error_of_the_benchmarks_mean_rows():
    """Sample standard deviation over sqrt(n), by hand: [1, 2, 3] has stdev 1, so 1/sqrt(3)."""
    benchmark = _benchmark()
    assert np.isclose(benchmark.standard_error([1.0, 2.0, 3.0]), 1.0 / np.sqrt(3.0))
    assert np.isclose(benchmark.standard_error([500.0, 500.0]), 0.0)
    assert benchmark.standard_error([7.0]) == 0.0
