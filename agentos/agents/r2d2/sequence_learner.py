"""What the R2D2 and Agent57 learners share: the sample -> jitted update -> new priorities
cycle over prioritized sequence batches, and running that cycle beside the actor.

Overlap (``step(..., wait=False)``, what the run loop does): the update runs in a worker
thread (a jitted computation releases the GIL) while the actor acts on the other core. JAX's
own asynchronous dispatch would not do: on CPU the actor's small computations queue behind
the update. Two things would make the actor wait for it, and both move one update later: the
new priorities are written to the replay just before the next sample, and the actor keeps
the parameters of the last finished update (``get_variables``). This is the lag every
distributed R2D2 has (Kapturowski et al. 2019, section 3: actors fetch parameters
periodically; priorities arrive after the batch was sampled). The update in flight is part
of the checkpoint, so a resumed run writes the same priorities at the same point as a
straight one, and the result is the same whichever thread computed it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import numpy as np

from agentos.agents.dqn.network import tree_from_numpy, tree_to_numpy
from agentos.agents.r2d2.actor import STATE_KEYS
from agentos.agents.r2d2.adder import (
    ACTION,
    DISCOUNT,
    MASK,
    OBSERVATION,
    PREV_ACTION,
    PREV_REWARD,
    REWARD,
)
from agentos.agents.target_learner import LearnerState, TargetNetworkLearner
from agentos.errors import AgentOSError


@dataclass
class UpdateInFlight:
    """An update started but not yet read back."""

    keys: np.ndarray
    """Replay keys of the sampled sequences."""
    acting_params: Any
    """The online parameters before this update: what the actor acts with meanwhile."""
    running: Future | None = None
    """The update in the worker thread, until its result is taken."""
    priorities: Any = None
    """[B] new priorities, once the update finished."""
    metrics: dict[str, Any] | None = None
    """The update's metrics, once it finished."""


class SequenceLearner(TargetNetworkLearner):
    """Reads prioritized sequence batches, runs the jitted update, writes priorities back.

    Subclasses set ``batch_size``, ``state`` and ``config`` and implement ``_update``.
    """

    extra_fields: tuple[str, ...] = ()
    """Per-step fields read from replay besides the adder's (e.g. ``mu``), as float32."""
    in_flight: UpdateInFlight | None = None
    """The update started by ``step(..., wait=False)`` and not yet read back."""
    optional_state: ClassVar[tuple[str, ...]] = ("in_flight",)
    """Keys of ``state_dict`` present only while an update is in flight."""
    _update_thread: ThreadPoolExecutor | None = None

    def _update(
        self, batch: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
        """One jitted update: -> (new state, metrics, [B] priorities)."""
        raise NotImplementedError

    def _batch(self, items: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The sampled arrays the update reads, in the dtypes it expects."""
        length = items[ACTION].shape[1]
        expected = self.params.burn_in + self.params.trace_length
        if length != expected:
            raise AgentOSError(
                f"replayed sequences have {length} steps, the learner expects burn_in + "
                f"trace_length = {expected}",
                where=self.context.name,
                fix="set learner.burn_in: ${actor.burn_in} and "
                "learner.trace_length: ${actor.trace_length}",
            )
        batch = {
            OBSERVATION: items[OBSERVATION],
            ACTION: items[ACTION].astype(np.int32),
            REWARD: items[REWARD].astype(np.float32),
            DISCOUNT: items[DISCOUNT].astype(np.float32),
            PREV_ACTION: items[PREV_ACTION].astype(np.int32),
            PREV_REWARD: items[PREV_REWARD].astype(np.float32),
            MASK: items[MASK].astype(np.float32),
        }
        for key in (*STATE_KEYS, *self.extra_fields):
            batch[key] = items[key].astype(np.float32)
        return batch

    def step(self, num_updates: int = 1, *, wait: bool = True) -> dict[str, float]:
        """Run ``num_updates`` updates (sample -> jitted update -> new priorities each);
        returns the mean of each metric of the updates finished in this call.

        ``wait=False`` leaves the last update running in a worker thread (see the module
        docstring): its priorities and metrics are read back by the next call.
        """
        if num_updates < 1:
            raise ValueError(f"num_updates must be >= 1, got {num_updates}")
        finished: list[dict[str, float]] = []
        for i in range(num_updates):
            finished += self._finish()
            sampled = self.replay.sample(self.batch_size)  # type: ignore[attr-defined]
            weights = np.asarray(sampled.weights, dtype=np.float32)
            batch = self._batch(sampled.items)
            update = UpdateInFlight(sampled.keys, self.state.params)
            if wait or i < num_updates - 1:
                self.state, update.metrics, update.priorities = self._update(batch, weights)
            else:
                update.running = self._worker().submit(self._computed_update, batch, weights)
            self.in_flight = update
        if wait:
            finished += self._finish()
        if not finished:
            return {}
        return {key: float(np.mean([m[key] for m in finished])) for key in finished[0]}

    def _computed_update(
        self, batch: dict[str, np.ndarray], weights: np.ndarray
    ) -> tuple[LearnerState, dict[str, jax.Array], jax.Array]:
        """``_update``, returning once its arrays are computed (the worker thread waits for
        the computation, not the caller)."""
        return jax.block_until_ready(self._update(batch, weights))

    def _worker(self) -> ThreadPoolExecutor:
        """The one thread that runs updates beside the actor (made on first use)."""
        if self._update_thread is None:
            self._update_thread = ThreadPoolExecutor(1, thread_name_prefix="learner-update")
        return self._update_thread

    def _settle(self) -> UpdateInFlight | None:
        """Wait for the update in flight (if any) and take its new state."""
        update = self.in_flight
        if update is not None and update.running is not None:
            self.state, update.metrics, update.priorities = update.running.result()
            update.running = None
        return update

    def _finish(self) -> list[dict[str, float]]:
        """Read back the update in flight (if any): its priorities go to the replay."""
        done = self._settle()
        self.in_flight = None
        if done is None:
            return []
        priorities = np.asarray(done.priorities, np.float64)
        self.replay.update_priorities(done.keys, priorities)  # type: ignore[attr-defined]
        return [{key: float(value) for key, value in (done.metrics or {}).items()}]

    @property
    def num_updates(self) -> int:
        """Gradient updates done so far (the one in flight included)."""
        self._settle()
        return int(self.state.num_updates)

    def get_variables(self) -> Any:
        """The online parameters of the last finished update (what actors act with)."""
        return self.state.params if self.in_flight is None else self.in_flight.acting_params

    def state_dict(self) -> dict[str, Any]:
        """The target-network learner's state and the update in flight, as numpy."""
        done = self._settle()
        state = super().state_dict()
        if done is not None:
            state["in_flight"] = {
                "keys": np.asarray(done.keys),
                "priorities": np.asarray(done.priorities, np.float64),
                "metrics": {key: float(value) for key, value in (done.metrics or {}).items()},
                "acting_params": tree_to_numpy(done.acting_params),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (an update in flight stays in flight)."""
        self._settle()
        super().load_state_dict(state)
        saved = state.get("in_flight")
        self.in_flight = None
        if saved is not None:
            self.in_flight = UpdateInFlight(
                keys=np.asarray(saved["keys"]),
                acting_params=tree_from_numpy(self.state.params, saved["acting_params"]),
                priorities=np.asarray(saved["priorities"]),
                metrics=dict(saved["metrics"]),
            )

    def close(self) -> None:
        """Finish the update in flight and stop the worker thread."""
        self._settle()
        if self._update_thread is not None:
            self._update_thread.shutdown(wait=True)
            self._update_thread = None
        super().close()
