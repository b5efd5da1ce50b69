"""The driver of the Ray layout: the ``agentos learn --actors N`` process.

It keeps the learner (unless ``--learner-actor``/``--learner-gpu`` moved it to a
``LearnerWorker`` process, see ``remote_learner``) and the loop's counters. It counts the steps
and items of each chunk a worker reports, runs the learner updates that are due under the
samples-per-insert ratio (``Loop.learn_due``, the same rule as in one process), sends variables
to the workers through the object store every ``sync_every`` learner calls, has the evaluator
play the evaluation episodes with the learner's current variables, writes every metric to the
one MLflow run and checkpoints, through the same ``LearnTally`` as ``Loop.learn``. Each worker
has ``PIPELINE`` chunks queued, so it acts on while the driver takes in and learns on its last
one; the next chunk is queued after the variables that learning produced. Acting never waits
for learning, and learning only runs the updates that the steps received make due, so there
is no deadlock.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import Any

from agentos.runtime.layouts.processes import RayProcesses
from agentos.runtime.layouts.workers import ChunkResult, insert_writes
from agentos.runtime.loop import Counters

log = logging.getLogger(__name__)

STEPS_PER_CALL = 32
"""Vector steps (of all ``num_envs`` copies) a worker acts per call: long enough that a call's
overhead (about a millisecond) is small, short enough that variables stay fresh."""
PIPELINE = 2
"""Chunks queued at each worker: it starts the next one while the driver takes in the last."""


class RayLayout(RayProcesses):
    """Drives ``actors`` environment workers and the driver's loop (replay, learner, evaluation,
    tracking, checkpoints); the processes themselves are ``RayProcesses``'."""

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
        loop.forget_episodes()
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
            with contextlib.suppress(Exception):  # the run's steps as the checkpoint has them
                hooks.on_metrics(loop.counter_metrics(), c.env_steps)
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
        tally = loop.tally(total_steps)
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
            tally.add({"inserted_items": float(inserted)})
            for r in results:
                for ret, length in zip(r.returns, r.lengths, strict=True):
                    tally.episode(ret, length)
                tally.add(r.stats)
            if learning:
                calls = c.learner_calls
                tally.add(loop.learn_due(prev))
                if c.learner_calls != calls and c.learner_calls % max(p.sync_every, 1) == 0:
                    self._sync()
            # Only now: the variables just sent come before the next chunk in each worker's
            # queue (it is still acting on its other queued chunk meanwhile).
            for index in answered:
                top_up(index)
            record = tally.metrics_due(prev)
            if record is not None:
                if self.sharded is not None:  # a shard that died is replaced now at the latest
                    self.sharded.sizes()
                record.update(tally.rates())
                record.update(self._restart_metrics())
                hooks.on_metrics(record, c.env_steps)
            tally.progress()
            tally.scheduled(prev, self._evaluate)
