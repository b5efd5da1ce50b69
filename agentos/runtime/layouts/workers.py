"""The worker side of the Ray layout: the processes that act and evaluate.

* ``EnvironmentWorker`` (a Ray actor process) builds the agent's environment, network and
  actor from the spec and ``-p`` overrides, seeded apart from the other workers. The actor's
  ``replay`` dependency is a ``ReplayCollector`` that keeps what the actor writes
  (``add_items`` sequences, or ``add`` transitions) until the driver fetches it, so the actor
  does not know where it runs. ``run(n)`` acts for n vector steps, sends the collected writes
  to the worker's replay shard in one batch (a replay that stays in the driver gets them in
  the reply instead, applied there with ``insert_writes``), and returns a ``ChunkResult``:
  step and item counts, the finished episodes and the actor's own metrics;
* ``EvaluationWorker`` (a Ray actor process with its own environment and actor) plays the
  evaluation episodes with the learner's current variables, as the driver's loop would.
"""

from __future__ import annotations

import os
import signal
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentos.runtime.layouts.partial_build import build_part, by_role, jax_on_cpu_only
from agentos.runtime.layouts.replay_shards import ShardInserter
from agentos.runtime.loop import EpisodesInProgress, Loop, train_seed, training_step
from agentos.runtime.roles import Transition


class ReplayCollector:
    """Stands in for the replay inside a worker: keeps the actor's writes for the driver."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, Any]] = []

    def add(self, transition: Transition) -> None:
        """Keep a batch of transitions (replays that store single steps)."""
        self.writes.append(("add", transition))

    def add_items(self, items: dict[str, np.ndarray], priorities: Any = None) -> np.ndarray:
        """Keep a batch of sequences; the real keys are only known in the driver (-1 here)."""
        items = {k: np.asarray(v) for k, v in items.items()}
        self.writes.append(("add_items", (items, priorities)))
        return np.full(len(next(iter(items.values()))), -1, dtype=np.int64)

    def __len__(self) -> int:
        return 0

    def pop(self) -> list[tuple[str, Any]]:
        """Everything written since the last call."""
        writes, self.writes = self.writes, []
        return writes

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class ChunkResult:
    """What a worker sends back after acting for a chunk."""

    steps: int
    """Env steps taken (vector steps x num_envs)."""
    writes: list[tuple[str, Any]]
    """The actor's replay writes, in order."""
    returns: list[float] = field(default_factory=list)
    """Returns of the episodes that ended."""
    lengths: list[int] = field(default_factory=list)
    """Their lengths."""
    stats: dict[str, float] = field(default_factory=dict)
    """The actor's own metrics (``pop_stats``), e.g. Agent57's intrinsic reward."""
    inserted: int = 0
    """Items the worker inserted into its replay shard itself (``writes`` is then empty)."""
    shard_lost: bool = False
    """The worker's replay shard did not take the previous chunk's items: they are lost."""


def worker_seed(seed: int, start_steps: int, number: int) -> int:
    """The seed of the ``number``-th worker started by a run (or its resumed part)."""
    return zlib.crc32(f"{seed}/{start_steps}/{number}".encode()) % (2**31 - 1)


class EnvironmentWorker:
    """An environment + actor process (made a Ray actor by the driver with ``ray.remote``).

    Builds the components the actor and environment need from the spec, with the actor's
    replay replaced by a ``ReplayCollector``; the learner is not built.
    """

    def __init__(self, agent_dir: str, overrides: list[str], seed: int, cpu_only: bool = False):
        if cpu_only:
            jax_on_cpu_only()
        self.collector = ReplayCollector()
        self.components, roles = build_part(
            agent_dir, overrides, seed, ("environment", "actor"), self.collector
        )
        self.env = by_role(self.components, roles, "environment")
        self.actor = by_role(self.components, roles, "actor")
        self.seed = seed
        self.shard: Any = None
        self._sending: list[Any] = []
        self._episodes: EpisodesInProgress | None = None

    def set_shard(self, handle: Any) -> None:
        """Insert into this replay shard (a Ray actor) from now on, instead of sending the
        writes to the driver."""
        self.shard = handle
        self._sending = []

    def ready(self) -> bool:
        """True once built (the driver waits on it to see start-up errors)."""
        return True

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def update(self, variables: Any) -> None:
        """Act with these learner variables (numpy arrays) from the next step on."""
        self.actor.update(variables)

    def run(self, vector_steps: int, env_steps: int) -> ChunkResult:
        """Act for ``vector_steps`` steps of all copies; ``env_steps`` is the run's training
        step counter when the chunk was asked for (for exploration schedules)."""
        env, actor = self.env, self.actor
        n = env.num_envs
        if self._episodes is None:
            self._episodes = EpisodesInProgress(
                observation=env.reset(seed=train_seed(self.seed, 0)),
                extras=actor.initial_extras(n),
                returns=np.zeros(n, np.float64),
                lengths=np.zeros(n, np.int64),
            )
        ep = self._episodes
        obs, extras = ep.observation, ep.extras
        result = ChunkResult(steps=0, writes=[])
        for _ in range(vector_steps):
            step, extras = training_step(env, actor, obs, extras, env_steps + result.steps)
            result.steps += n
            ep.returns += step.reward
            ep.lengths += 1
            done = step.terminated | step.truncated
            for i in np.flatnonzero(done):
                result.returns.append(float(ep.returns[i]))
                result.lengths.append(int(ep.lengths[i]))
                ep.returns[i] = 0.0
                ep.lengths[i] = 0
            obs = step.observation
        ep.observation, ep.extras = obs, extras
        result.writes = self.collector.pop()
        if self.shard is not None and result.writes:
            self._insert(result)
        pop_stats = getattr(actor, "pop_stats", None)
        if pop_stats is not None:
            result.stats = dict(pop_stats())
        return result

    def _insert(self, result: ChunkResult) -> None:
        """Send the chunk's writes to the worker's shard in one batch. The worker does not wait
        for them (waiting would idle it while the shard works) but for the previous chunk's,
        so at most one chunk is on its way and a shard that died shows one chunk later."""
        import ray

        try:
            ray.get(self._sending)
        except ray.exceptions.RayActorError:
            result.shard_lost = True  # the driver replaces the shard and sends the new one
        inserter = ShardInserter(self.shard)
        result.inserted = insert_writes(inserter, result.writes)
        result.writes = []
        self._sending = inserter.sent

    def close(self) -> None:
        """Close the components (environments)."""
        for comp in reversed(list(self.components.values())):
            comp.close()


class EvaluationWorker(EnvironmentWorker):
    """The evaluator process (a Ray actor): the spec's actor, built like a worker's, plays the
    greedy evaluation episodes on a separately seeded environment, as the driver's loop would."""

    def __init__(self, agent_dir: str, overrides: list[str], seed: int, cpu_only: bool = False):
        from agentos.components.graph import load_graph
        from agentos.components.spec import load_spec

        try:
            # Ctrl-C reaches the process group: let an evaluation in progress finish instead
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not in the main thread
            pass
        super().__init__(agent_dir, overrides, seed, cpu_only)
        graph = load_graph(load_spec(agent_dir), overrides)
        # the run's seed, so the episodes are those the driver's loop.evaluate would play
        self.loop = Loop(
            environment=self.env,
            actor=self.actor,
            learner=None,
            params=graph.loop,
            make_eval_env=lambda: graph.build_one("environment", seed, "/eval"),
            seed=seed,
        )

    def evaluate(
        self, variables: Any, episodes: int, env_steps: int, evaluations: int
    ) -> list[float]:
        """Greedy returns of ``episodes`` episodes with these variables; ``env_steps`` and
        ``evaluations`` are the run's counters (they pick the schedule and the env seed)."""
        if variables is not None:
            self.actor.update(variables)
        self.loop.counters.env_steps = env_steps
        self.loop.counters.evaluations = evaluations
        return self.loop.evaluate(episodes, track=False)

    def close(self) -> None:
        self.loop.close()
        super().close()


def insert_writes(replay: Any, writes: list[tuple[str, Any]]) -> int:
    """Apply workers' replay writes to the real replay, consecutive sequence batches merged
    into one ``add_items`` call; returns how many items (sequences or transitions) went in."""
    count = 0
    batch: list[dict[str, np.ndarray]] = []

    def flush() -> None:
        if batch:
            keys = batch[0].keys()
            replay.add_items({k: np.concatenate([b[k] for b in batch]) for k in keys})
            batch.clear()

    for kind, payload in writes:
        if kind == "add_items":
            items, priorities = payload
            count += len(next(iter(items.values())))
            if priorities is None and (not batch or batch[0].keys() == items.keys()):
                batch.append(items)
                continue
            flush()
            if priorities is None:
                batch.append(items)
            else:
                replay.add_items(items, priorities)
        else:
            flush()
            replay.add(payload)
            count += len(np.asarray(payload.action))
    flush()
    return count
