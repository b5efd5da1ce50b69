"""The Ray layout: N environment-worker processes act, K replay shards store, the driver learns.

``agentos learn --actors N [--replay-shards K] [--learner-actor | --learner-gpu]
[--address ADDR]`` runs the same spec as the single-process loop:

* each **environment worker** (a Ray actor process, ``EnvironmentWorker``) builds the agent's
  environment, network and actor from the spec and ``-p`` overrides, seeded apart from the
  other workers. The actor's ``replay`` dependency is a ``ReplayCollector`` that keeps what the
  actor writes (``add_items`` sequences, or ``add`` transitions) until the driver fetches it,
  so the actor does not know where it runs. ``run(n)`` acts for n vector steps, sends the
  collected writes to the worker's replay shard in one batch (a replay that stays in the
  driver gets them in the reply instead), and returns the step and item counts, the
  finished episodes and the actor's own metrics;
* the **replay shards** (K Ray actor processes, ``ReplayShard`` in ``replay_shards``, default
  K = 1) each hold a replay built from the spec; worker i's writes go to shard i mod K. The
  learner's ``replay`` is swapped for a ``ShardedReplay`` proxy that samples every shard and
  sends new priorities back to the shard of each key (see that module). A replay without
  ``add_items``/``sample``/``update_priorities`` (e.g. DQN's uniform replay) stays in the
  driver, and ``--replay-shards`` above 1 is then an error;
* the **driver** (the ``agentos learn`` process) keeps the learner and the loop's counters;
  with ``--learner-actor`` the learner runs in a ``LearnerWorker`` Ray process instead
  (``--learner-gpu``: one with a GPU) that samples the shards itself, and the driver tells it
  how many updates are due (see ``remote_learner``).
  It counts the steps and items of each chunk a worker reports, runs the learner updates
  that are due under the samples-per-insert ratio (the same rule as the
  loop: ``floor((env_steps - min_replay_size) * samples_per_insert / batch_size)`` updates),
  sends variables to the workers through the object store every ``sync_every`` learner calls,
  has the **evaluator** (``EvaluationWorker``, a Ray actor process with its own environment
  and actor) play the evaluation episodes with the learner's current variables, writes every
  metric to the one MLflow run and checkpoints. Each worker has ``PIPELINE`` chunks queued,
  so it acts on while the driver takes in and learns on its last one; the next chunk is
  queued after the variables that learning produced. Acting never waits for learning, and
  learning only runs the updates that the steps received make due, so there is no deadlock.

Differences from the single-process layout, by design:

* every worker steps ``environment.num_envs`` copies, so N workers act in N times as many
  environments, and the Ape-X epsilon ladder spans each worker's copies;
* a worker acts with variables up to ``PIPELINE - 1`` chunks (of ``STEPS_PER_CALL`` vector
  steps) staler than the single-process actor;
* checkpoints hold the counters, the learner, the replay (every shard's state, gathered) and
  the driver's components; the workers' episodes in progress, open sequences and actor state
  (exploration rngs, Agent57 bandits and RND normalisers) are not saved: a resumed run
  starts new episodes in fresh workers, and what the workers had not yet sent is lost (at
  most one chunk each).

Fault tolerance: a worker process that dies (``RayActorError``) is replaced by a new one (Ray's
own restarts are off, ``max_restarts=0``, so that each restart is seen and recorded) which
gets the latest variables; the chunk it was acting is lost and not counted. Restarts are the
metric ``train/actor_restarts`` and the run tag ``agentos.actor_restarts``. A replay shard
that dies is replaced by an empty one (its items are lost; the learner samples the other
shards meanwhile) and an evaluator that dies by a new one, which plays the evaluation again:
``train/replay_shard_restarts``, ``train/evaluator_restarts`` and the tags of the same names.
A learner process that dies stops the run; ``--resume`` continues from the last checkpoint.

Networking: without ``--address`` a local Ray instance is started for the run and shut down
after it (Ctrl-C included), so no process the run started stays behind. It listens on
127.0.0.1 only: Ray binds every interface unless its "cluster" mode is off, which is what
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` does; ray reads it when ``ray`` is first imported,
so ``_local_ray`` sets it before importing ray and, if ray was imported earlier in the
process, sets the constant it was read into (checked with ``ss -ltnp``: gcs_server, raylet,
the workers and the driver listen on 127.0.0.1 or ::ffff:127.0.0.1; with neither, on ``::``).
With ``--address`` the run joins that cluster: every node needs agentos installed and the
agent folder at the same path.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentos.errors import AgentOSError, ParameterError
from agentos.runtime.layouts.partial_build import build_part, by_role, jax_on_cpu_only
from agentos.runtime.layouts.remote_learner import LearnerWorker, RemoteLearner
from agentos.runtime.layouts.replay_shards import (
    ReplayShard,
    ShardedReplay,
    ShardInserter,
    supports_shards,
)
from agentos.runtime.loop import (
    Counters,
    EpisodesInProgress,
    Loop,
    Progress,
    crossed,
    train_seed,
    training_step,
)
from agentos.runtime.roles import Transition

log = logging.getLogger(__name__)

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, Ray treats the machine as a one-node setup and binds 127.0.0.1 only."""
STEPS_PER_CALL = 32
"""Vector steps (of all ``num_envs`` copies) a worker acts per call: long enough that a call's
overhead (about a millisecond) is small, short enough that variables stay fresh."""
PIPELINE = 2
"""Chunks queued at each worker: it starts the next one while the driver takes in the last."""
WORKER_START_TIMEOUT_S = 600.0
"""How long the first workers may take to start (import JAX, build the graph, jit)."""
MAX_FAILED_STARTS = 3
"""A worker slot whose replacements die this many times in a row without acting stops the
run (an error in the agent, not a killed process)."""
OBJECT_STORE_BYTES = 512 * 2**20
"""Shared memory of the local Ray instance's object store (chunks and variables are small)."""


def check_layout(
    actors: int,
    address: str | None,
    replay_shards: int = 1,
    learner_actor: bool = False,
    learner_gpu: bool = False,
) -> None:
    """Raise an AgentOSError (exit 2, with a fix) for an impossible ``--actors``,
    ``--replay-shards``, ``--learner-actor``/``--learner-gpu`` or an unreachable ``--address``,
    before a run starts."""
    if actors < 0:
        raise ParameterError(
            f"--actors must be 0 (one process) or a positive number of worker processes, "
            f"got {actors}",
            fix="use --actors 2 for two environment workers, or leave it out",
        )
    if replay_shards < 1:
        raise ParameterError(
            f"--replay-shards must be a positive number of replay processes, got {replay_shards}",
            fix="use --replay-shards 1 (the default) or more",
        )
    if replay_shards > 1 and actors == 0:
        raise ParameterError(
            "--replay-shards splits the replay over Ray processes, which only the distributed "
            "layout uses",
            fix="add --actors N, or leave out --replay-shards",
        )
    if (learner_actor or learner_gpu) and actors == 0:
        flag = "--learner-gpu" if learner_gpu else "--learner-actor"
        raise ParameterError(
            f"{flag} puts the learner in a Ray process, which only the distributed layout uses",
            fix=f"add --actors N, or leave out {flag}",
        )
    if address is None:
        return
    if actors == 0:
        raise ParameterError(
            "--address joins a Ray cluster, which only the distributed layout uses",
            fix="add --actors N, or leave out --address",
        )
    host_port = address.removeprefix("ray://")
    if address in ("auto", "local") or ":" not in host_port:
        if address not in ("auto", "local"):
            raise ParameterError(
                f"--address {address!r} is not HOST:PORT",
                fix="give the address `ray start --head` printed, e.g. 127.0.0.1:6379",
            )
        return
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3.0):
            pass
    except (OSError, ValueError) as e:
        raise AgentOSError(
            f"cannot reach a Ray cluster at {address} ({e})",
            fix="start one with `ray start --head --node-ip-address 127.0.0.1` and pass the "
            "address it prints, or leave out --address to start a local Ray for the run",
        ) from None


# --- the worker side -------------------------------------------------------------------


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


# --- the driver side -------------------------------------------------------------------


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


@dataclass
class _Slot:
    """One worker position: the current process and its state."""

    handle: Any
    number: int
    """How many workers the run had started before this one (its seed salt)."""
    failed_starts: int = 0
    """Replacements in a row that died before returning a chunk."""


class RayLayout:
    """Drives ``actors`` environment workers and the driver's loop (replay, learner, evaluation,
    tracking, checkpoints)."""

    def __init__(
        self,
        loop: Loop,
        *,
        replay: Any,
        agent_dir: str,
        overrides: list[str],
        seed: int,
        actors: int,
        address: str | None = None,
        set_tags: Callable[[dict[str, Any]], None] | None = None,
        replay_shards: int = 1,
        resumed_components: dict[str, Any] | None = None,
        learner_actor: bool = False,
        learner_gpu: bool = False,
    ):
        check_layout(actors, address, replay_shards, learner_actor, learner_gpu)
        if actors < 1:
            raise ParameterError(f"the Ray layout needs at least one actor, got {actors}")
        self.loop = loop
        self.replay = replay
        self.agent_dir = str(Path(agent_dir).resolve())
        self.overrides = list(overrides)
        self.seed = seed
        self.actors = actors
        self.address = address
        self.set_tags = set_tags or (lambda tags: None)
        self.restarts = 0
        self.shard_restarts = 0
        self.evaluator_restarts = 0
        self._shard_remote: Any = None
        self._ray: Any = None
        self._owns_ray = False
        self._restore: list[Callable[[], None]] = []
        self._remote_cls: Any = None
        self._slots: list[_Slot] = []
        self._started = 0
        self._start_steps = 0
        self._variables_ref: Any = None
        self.replay_shards = replay_shards
        self._resumed = resumed_components
        self._shard_handles: list[Any] = []
        self.sharded: ShardedReplay | None = None
        self._evaluator: Any = None
        self.learner_gpu = learner_gpu
        self.learner_actor = learner_actor or learner_gpu
        self._learner_handle: Any = None
        self._driver_learner: Any = None

    # --- Ray start and stop ------------------------------------------------------------
    def _start_ray(self) -> None:
        sigterm = signal.getsignal(signal.SIGTERM)
        if self.address is None:
            old_env = os.environ.get(LOOPBACK_ENV)
            os.environ[LOOPBACK_ENV] = "0"
            self._restore.append(lambda: _restore_env(LOOPBACK_ENV, old_env))
        import ray
        import ray._private.ray_constants as ray_constants

        self._ray = ray
        if ray.is_initialized():  # e.g. the caller joined a cluster itself: use it, keep it
            log.info("using the Ray instance this process already started")
        elif self.address is None:
            if getattr(ray_constants, "ENABLE_RAY_CLUSTER", False):
                # ray was imported before LOOPBACK_ENV was set, and read it then
                ray_constants.ENABLE_RAY_CLUSTER = False
                self._restore.append(lambda: setattr(ray_constants, "ENABLE_RAY_CLUSTER", True))
            with warnings.catch_warnings():
                # JAX warns of any fork; Ray's fork is followed by exec at once (subprocess)
                warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
                ray.init(
                    address="local",
                    num_cpus=max(self.actors + self.learner_actor, os.cpu_count() or 1),
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    object_store_memory=OBJECT_STORE_BYTES,
                    _node_ip_address="127.0.0.1",
                )
            self._owns_ray = True
        else:
            try:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            except Exception as e:  # ConnectionError, TimeoutError, ValueError across versions
                raise AgentOSError(
                    f"cannot join the Ray cluster at {self.address}: {e}",
                    fix="check the address `ray start --head` printed and that the cluster "
                    "runs the same ray version, or leave out --address",
                ) from None
            self._owns_ray = True
        # ray.init makes SIGTERM exit at once; learn turns it into a checkpoint and a stop
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, sigterm)
        self._remote_cls = ray.remote(EnvironmentWorker)

    def _stop(self) -> None:
        ray = self._ray
        if ray is not None:
            self._stop_learner()
            for slot in self._slots:
                self._kill(slot.handle, f"worker {slot.number}")
            self._slots = []
            for number, handle in enumerate(self._shard_handles):
                self._kill(handle, f"replay shard {number}")
            self._shard_handles = []
            if self._evaluator is not None:
                self._kill(self._evaluator, "the evaluator")
                self._evaluator = None
            if self._owns_ray:
                ray.shutdown()
                self._owns_ray = False
        for restore in reversed(self._restore):
            restore()
        self._restore = []

    # --- workers -----------------------------------------------------------------------
    def _new_worker(self, index: int) -> tuple[Any, int]:
        number = self._started
        self._started += 1
        handle = self._remote_cls.options(num_cpus=1, max_restarts=0, max_task_retries=0).remote(
            self.agent_dir,
            self.overrides,
            worker_seed(self.seed, self._start_steps, number),
            self.learner_gpu,
        )
        if self._variables_ref is not None:
            handle.update.remote(self._variables_ref)
        if self.sharded is not None:  # worker i inserts into shard i mod K itself
            handle.set_shard.remote(self._shard_handles[index % len(self._shard_handles)])
        return handle, number

    def _start_workers(self) -> None:
        ray = self._ray
        for index in range(self.actors):
            handle, number = self._new_worker(index)
            self._slots.append(_Slot(handle, number))
        pending = {slot.handle.ready.remote(): slot for slot in self._slots}
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while pending:
            if self.loop.hooks.interrupted():
                raise KeyboardInterrupt("interrupted")
            if time.monotonic() > deadline:
                raise AgentOSError(
                    f"{len(pending)} of {self.actors} environment workers did not start within "
                    f"{WORKER_START_TIMEOUT_S:.0f} s",
                    fix="the Ray cluster needs one free CPU per actor: use fewer --actors or "
                    "add nodes",
                )
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                pending.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayActorError as e:
                    raise AgentOSError(
                        f"an environment worker failed to start: {e}",
                        fix="check that `agentos learn` works without --actors; the worker "
                        "logs are under /tmp/ray/session_latest/logs",
                    ) from None

    def _start_evaluator(self) -> None:
        """Start the evaluator process; it builds while the workers start, and a failure shows
        at the first evaluation (which then runs in the driver)."""
        remote = self._ray.remote(EvaluationWorker)
        self._evaluator = remote.options(num_cpus=0, max_restarts=0, max_task_retries=0).remote(
            self.agent_dir, self.overrides, self.seed, self.learner_gpu
        )

    def _restart_evaluator(self, error: Exception) -> None:
        """Start a new evaluator process in place of the dead one and record the restart."""
        self._kill(self._evaluator, "the evaluator")
        self._start_evaluator()
        self.evaluator_restarts += 1
        log.warning(
            "the evaluator process died (%s): started a new one (%d restarts so far)",
            error,
            self.evaluator_restarts,
        )
        self.set_tags({"agentos.evaluator_restarts": self.evaluator_restarts})

    def _restart_metrics(self) -> dict[str, float]:
        """How many processes of each kind were replaced so far."""
        return {
            "train/actor_restarts": float(self.restarts),
            "train/replay_shard_restarts": float(self.shard_restarts),
            "train/evaluator_restarts": float(self.evaluator_restarts),
        }

    def _kill(self, handle: Any, what: str) -> None:
        """Stop a Ray actor of the run, if it still runs."""
        try:
            self._ray.kill(handle, no_restart=True)
        except Exception:  # already gone
            log.debug("%s was already gone", what)

    def _evaluate(self, episodes: int) -> list[float]:
        """``loop.evaluate`` with the episodes played in the evaluator process (with the
        learner's current variables) and the bookkeeping (counters, history, best checkpoint,
        metrics) done here; in the driver if the evaluator is gone."""
        import jax

        loop, ray = self.loop, self._ray
        c = loop.counters
        if self._evaluator is None:
            return loop.evaluate(episodes)
        variables = None
        if loop.learner is not None:
            variables = ray.put(jax.device_get(loop.learner.get_variables()))
        for attempt in range(2):
            try:
                flat = ray.get(
                    self._evaluator.evaluate.remote(variables, episodes, c.env_steps, c.evaluations)
                )
                break
            except ray.exceptions.RayActorError as e:
                if attempt == 0:  # died since the last evaluation: a new one plays it
                    self._restart_evaluator(e)
                    continue
                log.warning("the new evaluator process failed too (%s): evaluating here", e)
                self._kill(self._evaluator, "the evaluator")
                self._evaluator = None
                if loop.learner is not None:
                    loop.actor.update(loop.learner.get_variables())
                return loop.evaluate(episodes)
        loop.record_evaluation(flat)
        return flat

    def _start_shards(self) -> None:
        """Start the replay shard actors (restoring a resumed run's contents) and put their
        proxy in the learner's and the checkpoint's place of the driver's replay."""
        loop, ray = self.loop, self._ray
        learner = loop.learner
        if not (
            supports_shards(self.replay)
            and learner is not None
            and getattr(learner, "replay", None) is self.replay
        ):
            if self.replay_shards > 1:
                raise ParameterError(
                    "--replay-shards needs a replay of sequences (add_items, sample, "
                    "update_priorities) that the learner samples as its `replay`",
                    fix="leave out --replay-shards: this agent's replay stays in the driver",
                )
            log.info("the replay stays in the driver (its interface cannot be sharded)")
            return
        remote = ray.remote(ReplayShard).options(num_cpus=0, max_restarts=0, max_task_retries=0)
        self._shard_remote = remote
        self._shard_handles = [
            remote.remote(self.agent_dir, self.overrides, self.seed, index)
            for index in range(self.replay_shards)
        ]
        try:
            ray.get([h.ready.remote() for h in self._shard_handles], timeout=WORKER_START_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
            raise AgentOSError(
                f"a replay shard failed to start: {e}",
                fix="check that `agentos learn` works without --actors; the logs are under "
                "/tmp/ray/session_latest/logs",
            ) from None
        sharded = ShardedReplay(
            self._shard_handles, ray.get, ray.exceptions.RayActorError, self._replace_shard
        )
        names = [name for name, comp in loop.components.items() if comp is self.replay]
        saved = [self._resumed[n] for n in names if n in (self._resumed or {})]
        if saved:
            sharded.load_state_dict(saved[0])
        learner.replay = sharded
        for name in names:
            loop.components[name] = sharded

        def restore() -> None:
            learner.replay = self.replay
            for name in names:
                loop.components[name] = self.replay
            self.sharded = None

        self._restore.append(restore)
        self.sharded = sharded

    def _replace_shard(self, index: int) -> Any:
        """Start a new, empty replay shard in place of the dead one at ``index`` (its items
        are lost), record the restart and tell the learner process; returns its handle."""
        ray = self._ray
        self._kill(self._shard_handles[index], f"replay shard {index}")
        handle = self._shard_remote.remote(self.agent_dir, self.overrides, self.seed, index)
        try:
            ray.get(handle.ready.remote(), timeout=WORKER_START_TIMEOUT_S)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
            raise AgentOSError(
                f"replay shard {index} died and a new one failed to start: {e}",
                fix="continue from the last checkpoint with `agentos learn --resume`; the logs "
                "are under /tmp/ray/session_latest/logs",
            ) from None
        self._shard_handles[index] = handle
        self.shard_restarts += 1
        log.warning(
            "replay shard %d died: started a new, empty one (%d restarts so far); the items "
            "it held are lost",
            index,
            self.shard_restarts,
        )
        self.set_tags({"agentos.replay_shard_restarts": self.shard_restarts})
        if self._learner_handle is not None:
            self._learner_handle.set_shards.remote(list(self._shard_handles))
        for i, slot in enumerate(self._slots):
            if i % len(self._shard_handles) == index:
                slot.handle.set_shard.remote(handle)
        return handle

    def _start_learner(self) -> None:
        """Move the learner into its own Ray process (``--learner-actor``, ``--learner-gpu``),
        starting from the driver's learner state, and put its stand-in in the loop."""
        if not self.learner_actor:
            self.set_tags({"agentos.learner": "driver"})
            return
        loop, ray = self.loop, self._ray
        flag = "--learner-gpu" if self.learner_gpu else "--learner-actor"
        if self.sharded is None:
            raise ParameterError(
                f"{flag} needs the replay in shard processes, and this agent's replay cannot "
                "be sharded (it needs add_items, sample and update_priorities)",
                fix=f"leave out {flag}: the learner stays in this process",
            )
        options: dict[str, Any] = {"num_cpus": 1, "max_restarts": 0, "max_task_retries": 0}
        if self.learner_gpu:
            resources = ray.cluster_resources()
            if resources.get("GPU", 0) < 1:
                raise AgentOSError(
                    f"--learner-gpu: the Ray cluster has no GPU ({resources.get('CPU', 0):.0f} "
                    "CPUs, 0 GPUs)",
                    fix="leave out --learner-gpu (--learner-actor keeps the learner in its own "
                    "CPU process), or join a cluster with a GPU node with --address",
                )
            options["num_gpus"] = 1
        handle = (
            ray.remote(LearnerWorker)
            .options(**options)
            .remote(
                self.agent_dir, self.overrides, self.seed, self._shard_handles, self.learner_gpu
            )
        )
        self._learner_handle = handle
        try:
            ray.get(
                handle.load_state_dict.remote(loop.learner.state_dict()),
                timeout=WORKER_START_TIMEOUT_S,
            )
            info = ray.get(handle.info.remote())
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as e:
            raise AgentOSError(
                f"the learner process failed to start: {e}",
                fix="check that `agentos learn --actors N` works without " + flag,
            ) from None
        if self.learner_gpu and info.backend != "gpu":
            raise AgentOSError(
                f"Ray gave the learner process a GPU, but JAX there runs on {info.device}",
                fix="install a CUDA build of JAX on the GPU node "
                "(pip install -U 'jax[cuda12]'), or leave out --learner-gpu",
            )
        remote = RemoteLearner(handle, ray, info)
        driver_learner = loop.learner
        names = [name for name, comp in loop.components.items() if comp is driver_learner]
        loop.learner = remote
        for name in names:
            loop.components[name] = remote

        def restore() -> None:
            loop.learner = driver_learner
            for name in names:
                loop.components[name] = driver_learner

        self._restore.append(restore)
        self._driver_learner = driver_learner
        self.set_tags({"agentos.learner": "ray-actor", "agentos.learner_device": info.device})
        log.info("the learner runs in process %d on %s", info.pid, info.device)

    def _stop_learner(self) -> None:
        """Bring the learner process's state back into the driver's learner (so the loop's
        learner is current after the run) and stop that process."""
        handle, self._learner_handle = self._learner_handle, None
        if handle is None:
            return
        try:
            self._driver_learner.load_state_dict(self._ray.get(handle.state_dict.remote()))
        except Exception as e:  # the process died: the last checkpoint has its state
            log.warning("could not fetch the learner process's last state: %s", e)
        self._kill(handle, "the learner process")

    def _replace(self, index: int) -> None:
        """Start a new worker in place of the dead one at ``index`` and record the restart."""
        old = self._slots[index]
        self._kill(old.handle, f"worker {old.number}")
        if old.failed_starts >= MAX_FAILED_STARTS:
            raise AgentOSError(
                f"environment worker {index} died {old.failed_starts + 1} times in a row "
                "before acting",
                fix="see the worker logs under /tmp/ray/session_latest/logs",
            )
        handle, number = self._new_worker(index)
        self._slots[index] = _Slot(handle, number, failed_starts=old.failed_starts + 1)
        self.restarts += 1
        log.warning(
            "environment worker %d died: started a new one (%d restarts so far)",
            index,
            self.restarts,
        )
        self.set_tags({"agentos.actor_restarts": self.restarts})

    def _sync(self) -> None:
        """Send the learner's variables to every worker through the object store."""
        import jax

        variables = jax.device_get(self.loop.learner.get_variables())
        self._variables_ref = self._ray.put(variables)
        for slot in self._slots:
            slot.handle.update.remote(self._variables_ref)

    def worker_pids(self) -> list[int]:
        """The process ids of the current workers."""
        return self._ray.get([s.handle.pid.remote() for s in self._slots])

    # --- learning ----------------------------------------------------------------------
    def learn(self, total_steps: int) -> Counters:
        """Act in the workers and learn in the driver until ``total_steps`` env steps, as
        ``Loop.learn`` does in one process: same counters, ratio, evaluation, metrics and
        checkpoints. Ray (if this run started it) is shut down on the way out."""
        try:
            start = time.perf_counter()
            self._start_ray()
            log.info("Ray ready in %.1f s", time.perf_counter() - start)
            return self._learn(total_steps)
        finally:
            self._stop()

    def _learn(self, total_steps: int) -> Counters:
        loop = self.loop
        p, c, hooks = loop.params, loop.counters, loop.hooks
        self._start_steps = c.env_steps
        # The driver's actor only evaluates: the episodes of a resumed checkpoint are not
        # continued (workers start new ones), so neither they nor its open sequences are kept.
        loop.actor.end_episodes()
        loop._episodes = None
        if loop.learner is not None:
            self._sync()
        try:
            start = time.perf_counter()
            self._start_evaluator()
            self._start_shards()
            self._start_learner()
            self._start_workers()
            log.info(
                "%d environment workers ready in %.1f s", self.actors, time.perf_counter() - start
            )
            self._run_workers(total_steps)
        except KeyboardInterrupt:
            log.warning("interrupted at %d env steps: writing a checkpoint", c.env_steps)
            hooks.on_checkpoint(loop.state_dict(), final=True)
            raise
        if not loop.eval_history or loop.eval_history[-1]["env_steps"] != c.env_steps:
            self._evaluate(p.eval_episodes)
        # after the last evaluation, so a restart of the evaluator there is counted too
        hooks.on_metrics(
            {
                "train/env_steps": float(c.env_steps),
                "train/episodes": float(c.episodes),
                "train/learner_updates": float(c.learner_updates),
                **self._restart_metrics(),
            },
            c.env_steps,
        )
        hooks.on_checkpoint(loop.state_dict(), final=True)
        return c

    def _run_workers(self, total_steps: int) -> None:
        ray, loop = self._ray, self.loop
        p, c, hooks = loop.params, loop.counters, loop.hooks
        n = loop.env.num_envs
        learning = loop.learner is not None and p.samples_per_insert > 0
        if loop.learner is None and p.samples_per_insert > 0:
            log.warning("samples_per_insert > 0 but the agent has no learner: acting only")
        # ref -> (slot index, worker number, env steps asked)
        inflight: dict[Any, tuple[int, int, int]] = {}

        def top_up(index: int) -> None:
            """Keep PIPELINE chunks queued at the worker, within the steps left to hand out."""
            slot = self._slots[index]
            queued = sum(1 for _, number, _ in inflight.values() if number == slot.number)
            for _ in range(PIPELINE - queued):
                left = total_steps - c.env_steps - sum(s for _, _, s in inflight.values())
                if left <= 0:
                    return
                vector_steps = min(STEPS_PER_CALL, math.ceil(left / n))
                ref = slot.handle.run.remote(vector_steps, c.env_steps)
                inflight[ref] = (index, slot.number, vector_steps * n)

        for index in range(len(self._slots)):
            top_up(index)
        t0, steps0, updates0 = time.perf_counter(), c.env_steps, c.learner_updates
        last_progress = 0.0
        pending: dict[str, list[float]] = {}
        while inflight and not hooks.should_stop():
            if hooks.interrupted():
                raise KeyboardInterrupt("interrupted")
            done, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
            if not done:
                continue
            others = [r for r in inflight if r not in done]
            if others:
                done += ray.wait(others, num_returns=len(others), timeout=0)[0]
            prev = c.env_steps
            results: list[ChunkResult] = []
            answered: list[int] = []
            for ref in done:
                index, number, _ = inflight.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError:
                    if hooks.interrupted():  # Ctrl-C reached the worker too
                        raise KeyboardInterrupt("interrupted") from None
                    if number == self._slots[index].number:  # not yet replaced
                        self._replace(index)
                    top_up(index)
                    continue
                self._slots[index].failed_starts = 0
                c.env_steps += result.steps
                results.append(result)
                answered.append(index)
            if not results:
                continue
            writes = [w for r in results for w in r.writes]  # only when the replay is here
            inserted = insert_writes(self.replay, writes) if writes else 0
            inserted += sum(r.inserted for r in results)  # by the workers, into their shards
            if any(r.shard_lost for r in results):
                self.sharded.sizes()  # replaces the dead shard and tells its workers
            pending.setdefault("train/inserted_items", []).append(float(inserted))
            for r in results:
                for ret, length in zip(r.returns, r.lengths, strict=True):
                    c.episodes += 1
                    loop.recent_returns.append(ret)
                    pending.setdefault("train/episode_return", []).append(ret)
                    pending.setdefault("train/episode_length", []).append(float(length))
                for k, v in r.stats.items():
                    pending.setdefault(f"train/{k}", []).append(v)
            if learning:
                calls = c.learner_calls
                metrics = loop.learn_due(prev)
                for k, v in metrics.items():
                    pending.setdefault(f"train/{k}", []).append(v)
                if c.learner_calls != calls and c.learner_calls % max(p.sync_every, 1) == 0:
                    self._sync()
            # Only now: the variables just sent come before the next chunk in each worker's
            # queue (it is still acting on its other queued chunk meanwhile).
            for index in answered:
                top_up(index)
            if crossed(prev, c.env_steps, p.log_every):
                if self.sharded is not None:  # a shard that died is replaced now at the latest
                    self.sharded.sizes()
                elapsed = max(time.perf_counter() - t0, 1e-9)
                record = {k: float(np.mean(v)) for k, v in pending.items()}
                record.update(loop.rate_metrics(steps0, updates0, elapsed))
                record.update(self._restart_metrics())
                pending = {}
                hooks.on_metrics(record, c.env_steps)
            now = time.perf_counter()
            if now - last_progress > 0.2 or c.env_steps >= total_steps:
                last_progress = now
                recent = loop.recent_returns
                hooks.on_progress(
                    Progress(
                        counters=c,
                        total_steps=total_steps,
                        recent_return=float(np.mean(recent)) if recent else None,
                        steps_per_s=(c.env_steps - steps0) / max(now - t0, 1e-9),
                        last_eval=loop.last_eval,
                    )
                )
            if p.eval_every and crossed(prev, c.env_steps, p.eval_every):
                self._evaluate(p.eval_episodes)
            if p.checkpoint_every and crossed(prev, c.env_steps, p.checkpoint_every):
                hooks.on_checkpoint(loop.state_dict(), final=False)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
