"""Step traces: one row per evaluation step, with the actor's extras, readable by pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from agentos.envs.corridor import Corridor, CorridorParams
from agentos.runtime.loop import Loop, LoopParams
from agentos.runtime.roles import BuildContext
from agentos.viz.trace import StepTrace


class _Right:
    """Always right; extras carry a per-env scalar, a short vector and a long state."""

    def initial_extras(self, n):
        state, zeros = np.zeros((n, 64)), np.zeros(n, np.int64)
        return {"arm": zeros, "pair": np.zeros((n, 2)), "h": state, "prev_action": zeros}

    def select_action(self, obs, extras, *, explore, env_steps):
        n = obs.shape[0]
        extras = dict(extras, arm=extras["arm"] + 1, pair=np.tile([1.0, 2.0], (n, 1)))
        return np.ones(n, np.int64), dict(extras, prev_action=np.ones(n, np.int64))

    def after_step(self, extras, step):
        return extras

    def step_info(self):
        return {"epsilon": np.full(2, 0.01)}


def test_one_row_per_counted_step_with_extras(tmp_path: Path):
    ctx = BuildContext(name="environment", seed=0, agent_dir=tmp_path)
    loop = Loop(
        environment=Corridor(CorridorParams(length=3, num_envs=2), ctx),
        actor=_Right(),
        learner=None,
        params=LoopParams(eval_every=0),
        make_eval_env=lambda: Corridor(CorridorParams(length=3, num_envs=2), ctx),
        seed=0,
    )
    loop.trace = StepTrace(tmp_path / "trace.csv")
    returns = loop.evaluate(3, track=False)
    assert returns == [-2.0, -2.0, -2.0]  # 3 steps right, -1 for the first two
    table = pd.read_csv(loop.trace.write())
    # 3 episodes of 3 steps; the 4th episode (copy 1's second) is not counted
    assert len(table) == 9
    assert sorted(table.episode.unique()) == [0, 1, 2]
    assert table.t.tolist()[:3] == [0, 0, 1]
    assert table.terminated.sum() == 3 and table.reward.sum() == -6.0
    assert {"arm", "pair_0", "pair_1", "epsilon"} <= set(table.columns)
    assert "h_0" not in table.columns  # recurrent states are left out
    assert "prev_action" not in table.columns  # after the step it is this step's action
    assert table.groupby("episode").t.max().tolist() == [2, 2, 2]
