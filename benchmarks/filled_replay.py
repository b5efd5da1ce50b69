"""Set-up shared by the benchmarks: components installed in a temporary agent folder
(``installed_agent``), and a bundle built there with its replay filled by its own actor
(``filled_agent``)."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class FilledAgent:
    """A built agent whose replay holds at least the asked number of items."""

    built: Any
    env: Any
    actor: Any
    learner: Any
    replay: Any
    folder: Path
    """The temporary agent folder (removed on leaving ``filled_agent``)."""
    acting_env_steps_per_s: float
    """Env steps per second of the filling (acting, adder and replay inserts)."""


@contextlib.contextmanager
def installed_agent(components: list[str]) -> Iterator[Path]:
    """A temporary agent folder with ``components`` installed (and its own MLflow store)."""
    from agentos.cli.init_cmd import init
    from agentos.components.install import install

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        folder = Path(tmp) / "agent"
        with contextlib.redirect_stdout(sys.stderr):
            init(folder, None, False)
        install(folder, components, [])
        yield folder


@contextlib.contextmanager
def filled_agent(
    bundle: str, env_id: str, overrides: list[str], items: int
) -> Iterator[FilledAgent]:
    """``bundle`` on ``env_id`` with ``overrides``, its replay filled to ``items`` items."""
    import agentos
    from agentos.runtime.loop import training_step

    with installed_agent([bundle, env_id]) as folder:
        built = agentos.load_agent(folder, overrides).graph.build(seed=0)
        env, actor = built.one("environment"), built.one("actor")
        learner, replay = built.one("learner"), built.one("replay")
        obs, extras = env.reset(seed=0), actor.initial_extras(env.num_envs)
        start, steps = time.perf_counter(), 0
        while len(replay) < items:
            step, extras = training_step(env, actor, obs, extras, 0)
            obs = step.observation
            steps += env.num_envs
        rate = steps / (time.perf_counter() - start)
        try:
            yield FilledAgent(built, env, actor, learner, replay, folder, rate)
        finally:
            built.close()
