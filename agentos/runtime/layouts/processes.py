"""The Ray processes of a run of the Ray layout: start them, replace them when they die, stop.

``RayProcesses`` is the base of the driver's ``RayLayout``: it holds the handles of the
environment workers, the replay shards, the evaluator and (``--learner-actor``,
``--learner-gpu``) the learner process, and the run's Ray instance (``cluster``).

Fault tolerance: a worker process that dies (``RayActorError``) is replaced by a new one (Ray's
own restarts are off, ``max_restarts=0``, so that each restart is seen and recorded) which
gets the latest variables; the chunk it was acting is lost and not counted. Restarts are the
metric ``train/actor_restarts`` and the run tag ``agentos.actor_restarts``. A replay shard
that dies is replaced by an empty one (its items are lost; the learner samples the other
shards meanwhile) and an evaluator that dies by a new one, which plays the evaluation again:
``train/replay_shard_restarts``, ``train/evaluator_restarts`` and the tags of the same names.
A learner process that dies stops the run; ``--resume`` continues from the last checkpoint.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentos.errors import AgentOSError, ParameterError
from agentos.runtime.layouts.cluster import check_layout, start_ray
from agentos.runtime.layouts.remote_learner import LearnerWorker, RemoteLearner
from agentos.runtime.layouts.replay_shards import ReplayShard, ShardedReplay, supports_shards
from agentos.runtime.layouts.workers import EnvironmentWorker, EvaluationWorker, worker_seed
from agentos.runtime.loop import Loop

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT_S = 600.0
"""How long the first workers may take to start (import JAX, build the graph, jit)."""
MAX_FAILED_STARTS = 3
"""A worker slot whose replacements die this many times in a row without acting stops the
run (an error in the agent, not a killed process)."""


@dataclass
class _Slot:
    """One worker position: the current process and its state."""

    handle: Any
    number: int
    """How many workers the run had started before this one (its seed salt)."""
    failed_starts: int = 0
    """Replacements in a row that died before returning a chunk."""


class RayProcesses:
    """The run's Ray instance and Ray actor processes (see the module docstring)."""

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

    def _start_ray(self) -> None:
        self._ray, self._owns_ray = start_ray(
            self.address, max(self.actors + self.learner_actor, os.cpu_count() or 1), self._restore
        )
        self._remote_cls = self._ray.remote(EnvironmentWorker)

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
