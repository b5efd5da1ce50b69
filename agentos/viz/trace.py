"""Step traces of evaluation episodes: one row per step, written as CSV (pandas reads it).

A row holds the episode (numbered in the order episodes start), the copy, the step ``t``,
the action, the reward, the done flags, and the actor's per-environment extras that are
small enough to read: scalars as one column, short vectors as ``key_0``, ``key_1``, ...;
recurrent states are left out. Extras are read after the step, when ``prev_*`` extras (R2D2's
and Agent57's previous action and rewards) already hold this step's own, so those are left
out too: the row's action and reward, and Agent57's ``intrinsic_reward``, are the same values.
Actors that expose ``step_info()`` (Q-values, epsilon, arm, intrinsic reward, RND
alpha of the last step) add those columns.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

MAX_VECTOR = 32
"""Longer per-environment vectors (LSTM states) are not traced."""


def _columns(values: dict[str, Any], i: int, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        arr = np.asarray(value)
        if arr.ndim == 0 or arr.shape[0] != n or arr.dtype == object:
            continue
        item = arr[i]
        if item.size == 1:
            out[key] = item.item()
        elif item.size <= MAX_VECTOR:
            out.update({f"{key}_{j}": v.item() for j, v in enumerate(item.reshape(-1))})
    return out


def check_trace_path(path: Path) -> None:
    """Refuse a trace file that cannot be written, before any episode is played."""
    if Path(path).is_dir():
        from agentos.errors import AgentOSError

        raise AgentOSError(
            f"--trace {path} is a folder", fix=f"name a CSV file, e.g. {path}/trace.csv"
        )
    from agentos.viz.paths import check_parent_folders

    check_parent_folders(Path(path), "--trace")


class StepTrace:
    """Collects rows while evaluation episodes are played; ``write`` saves the CSV."""

    def __init__(self, path: Path):
        self.path = Path(path)
        check_trace_path(self.path)
        self.rows: list[dict[str, Any]] = []
        self._episode = np.zeros(0, np.int64)
        self._t = np.zeros(0, np.int64)
        self._next = 0

    def start(self, num_envs: int) -> None:
        """New evaluation: copy i plays episode ``next + i`` first."""
        self._episode = np.arange(self._next, self._next + num_envs)
        self._next += num_envs
        self._t = np.zeros(num_envs, np.int64)

    def record(
        self, counting: np.ndarray, action: Any, step: Any, extras: dict, info: dict | None
    ) -> None:
        """Add the rows of one vector step for the copies whose episodes count."""
        n = len(self._episode)
        action = np.asarray(action)
        own = {k: v for k, v in (extras or {}).items() if not k.startswith("prev_")}
        for i in np.flatnonzero(counting):
            row = {
                "episode": int(self._episode[i]),
                "copy": int(i),
                "t": int(self._t[i]),
                "action": action[i].item() if action[i].size == 1 else action[i].tolist(),
                "reward": float(step.reward[i]),
                "terminated": bool(step.terminated[i]),
                "truncated": bool(step.truncated[i]),
            }
            row.update(_columns(own, i, n))  # type: ignore[arg-type]
            row.update(_columns(info or {}, i, n))  # type: ignore[arg-type]
            self.rows.append(row)
        self._t += 1
        for i in np.flatnonzero(step.terminated | step.truncated):
            self._episode[i] = self._next
            self._next += 1
            self._t[i] = 0

    def write(self) -> Path:
        """Write the rows collected so far (columns: the union over rows, in first-seen order)."""
        columns: dict[str, None] = {}
        for row in self.rows:
            columns.update(dict.fromkeys(row))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns))
            writer.writeheader()
            writer.writerows(self.rows)
        return self.path
