"""The replay of the Ray layout as K shard actors, and the proxy the driver's learner samples.

Each shard (``ReplayShard``, a Ray actor process) holds a replay built from the spec with
``graph.build_one("replay", ...)``, so its kind, ``capacity``, priority exponents etc. are the
spec's; every shard has the spec's capacity. The items of environment worker ``i`` go to shard
``i mod K``. The learner in the driver gets a ``ShardedReplay`` in place of its replay, with the
interface the sequence learners use (``__len__``, ``sample``, ``update_priorities``):

* ``sample(B)`` splits the batch over the shards in proportion to their sizes (largest
  remainders), asks them at once and concatenates the parts. Each part's importance weights
  are its shard's own, normalised to a max of 1 within that part (exact for one shard);
* a key is ``shard_key * K + shard``, so ``update_priorities`` sends each new priority back to
  the shard that produced the key (stale keys are ignored by the shard as usual);
* ``state_dict()`` gathers the shards: shard 0's state at the top level (so a plain replay of
  the spec loads it, e.g. ``agentos run`` from the checkpoint) and every shard's state under
  ``"shards"``, which ``load_shards`` puts back into K shards on ``--resume``.

Calls from the driver to one shard run in the order they were sent (Ray keeps the order of
one caller's tasks to an actor), so a batch sampled after an insert sees it.

A shard process that dies loses its items. When the proxy meets a dead shard (its call raises
``actor_error``, Ray's ``RayActorError``) it asks ``replace(index)`` for a new, empty shard (the
driver's proxy; the layout records the restart) or, without ``replace`` (the learner process's
proxy), leaves that shard out until ``handles`` are set again; a batch being sampled is drawn
again from the shards that answer, so it always has ``batch_size`` items. Inserts and priority
updates are sent without waiting, so those sent to a dead shard are lost with it.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any

import numpy as np

from agentos.errors import ParameterError
from agentos.replay.prioritized import SampledBatch

log = logging.getLogger(__name__)


def supports_shards(replay: Any) -> bool:
    """Whether the spec's replay has the sequence interface the shards need."""
    return all(hasattr(replay, m) for m in ("add_items", "sample", "update_priorities"))


def split_batch(batch_size: int, sizes: list[int]) -> list[int]:
    """Items to draw from each shard: ``batch_size * size / total``, floors plus the largest
    remainders, so the parts add up to ``batch_size`` and empty shards give none."""
    total = sum(sizes)
    if total <= 0:
        raise ValueError("cannot sample from an empty replay buffer")
    exact = [batch_size * s / total for s in sizes]
    parts = [int(np.floor(e)) for e in exact]
    order = sorted(range(len(sizes)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: batch_size - sum(parts)]:
        parts[i] += 1
    return parts


class ReplayShard:
    """One replay shard (made a Ray actor by the layout with ``ray.remote``)."""

    def __init__(self, agent_dir: str, overrides: list[str], seed: int, index: int):
        from agentos.components.graph import load_graph
        from agentos.components.spec import load_spec

        try:
            # Ctrl-C reaches the whole process group: the driver still needs the contents
            # for its last checkpoint, and stops the shard itself afterwards.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not in the main thread
            pass
        graph = load_graph(load_spec(agent_dir), overrides)
        self.replay = graph.build_one("replay", seed, "" if index == 0 else f"/shard{index}")

    def ready(self) -> bool:
        """True once built."""
        return True

    def size(self) -> int:
        """How many items the shard holds."""
        return len(self.replay)

    def add_items(self, items: dict[str, np.ndarray], priorities: Any = None) -> None:
        """Insert a batch of sequences."""
        self.replay.add_items(items, priorities)

    def add(self, transition: Any) -> None:
        """Insert a batch of transitions."""
        self.replay.add(transition)

    def sample(self, batch_size: int) -> SampledBatch:
        """A batch of the shard's own keys, items and weights."""
        return self.replay.sample(batch_size)

    def update_priorities(self, keys: np.ndarray, priorities: np.ndarray) -> None:
        """New priorities of the shard's own keys."""
        self.replay.update_priorities(keys, priorities)

    def state_dict(self) -> dict[str, Any]:
        """The replay's state."""
        return self.replay.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the replay's state."""
        self.replay.load_state_dict(state)


class ShardInserter:
    """What ``insert_writes`` writes to for one shard: sends each write without waiting and
    keeps the replies in ``sent`` (``ray.get(sent)`` waits until they are in)."""

    def __init__(self, handle: Any):
        self.handle = handle
        self.sent: list[Any] = []

    def add_items(self, items: dict[str, np.ndarray], priorities: Any = None) -> None:
        self.sent.append(self.handle.add_items.remote(items, priorities))

    def add(self, transition: Any) -> None:
        self.sent.append(self.handle.add.remote(transition))


class ShardedReplay:
    """The learner's replay in the driver: K shard actors behind the replay interface.

    ``handles`` are Ray actor handles (``h.method.remote(...)``) and ``get`` is ``ray.get``.
    """

    def __init__(
        self,
        handles: list[Any],
        get: Any,
        actor_error: type[BaseException] | tuple[type[BaseException], ...] = (),
        replace: Callable[[int], Any] | None = None,
    ):
        self._handles = list(handles)
        self.get = get
        self.actor_error = actor_error
        self.replace = replace
        self.left_out: set[int] = set()
        """Shards found dead and not replaced (no ``replace``): not sampled until reset."""

    @property
    def handles(self) -> list[Any]:
        """The shard actors, by index."""
        return self._handles

    @handles.setter
    def handles(self, handles: list[Any]) -> None:
        self._handles = list(handles)
        self.left_out = set()

    def _lost(self, index: int) -> None:
        """Shard ``index`` did not answer: replace it, or leave it out."""
        if self.replace is not None:
            self._handles[index] = self.replace(index)
        else:
            log.warning("replay shard %d does not answer: sampling the others", index)
            self.left_out.add(index)

    def _get_each(self, asked: list[tuple[int, Any]]) -> dict[int, Any]:
        """``get`` of each shard's reply, by shard; the shards that died are handled and left
        out of the result."""
        out: dict[int, Any] = {}
        for index, ref in asked:
            try:
                out[index] = self.get(ref)
            except self.actor_error:
                self._lost(index)
        return out

    @property
    def num_shards(self) -> int:
        return len(self.handles)

    def inserter(self, worker_index: int) -> ShardInserter:
        """Where the writes of environment worker ``worker_index`` go."""
        return ShardInserter(self.handles[worker_index % self.num_shards])

    def sizes(self) -> list[int]:
        """How many items each shard holds (0 for a shard that died)."""
        live = [i for i in range(self.num_shards) if i not in self.left_out]
        got = self._get_each([(i, self._handles[i].size.remote()) for i in live])
        return [int(got.get(i, 0)) for i in range(self.num_shards)]

    def __len__(self) -> int:
        return sum(self.sizes())

    def sample(self, batch_size: int) -> SampledBatch:
        """``batch_size`` items from the shards in proportion to their sizes; keys global."""
        k = self.num_shards
        for _ in range(k + 1):  # each try that fails loses a shard
            parts = split_batch(int(batch_size), self.sizes())
            asked = [(s, self._handles[s].sample.remote(n)) for s, n in enumerate(parts) if n > 0]
            got = self._get_each(asked)
            if len(got) == len(asked):
                break
        else:
            raise RuntimeError("the replay shards keep dying while sampled")
        shards = [s for s, _ in asked]
        batches = [got[s] for s in shards]
        keys = np.concatenate(
            [np.asarray(b.keys, np.int64) * k + s for s, b in zip(shards, batches, strict=True)]
        )
        items = {
            name: np.concatenate([b.items[name] for b in batches]) for name in batches[0].items
        }
        weights = np.concatenate([np.asarray(b.weights, np.float32) for b in batches])
        return SampledBatch(keys=keys, items=items, weights=weights)

    def update_priorities(self, keys: np.ndarray, priorities: np.ndarray) -> None:
        """Send each priority to the shard its key came from (without waiting)."""
        keys = np.asarray(keys, np.int64).ravel()
        priorities = np.asarray(priorities, np.float64).ravel()
        shard = np.mod(keys, self.num_shards)
        for s in np.unique(shard):
            if int(s) in self.left_out:
                continue
            mine = shard == s
            self._handles[int(s)].update_priorities.remote(
                keys[mine] // self.num_shards, priorities[mine]
            )

    def state_dict(self) -> dict[str, Any]:
        """Shard 0's state at the top level, every shard's under ``"shards"``."""
        asked = [(i, h.state_dict.remote()) for i, h in enumerate(self._handles)]
        got = self._get_each(asked)
        if len(got) < len(asked):  # replaced by empty shards (or left out): ask once more
            got.update(
                self._get_each(
                    [
                        (i, self._handles[i].state_dict.remote())
                        for i, _ in asked
                        if i not in got and i not in self.left_out
                    ]
                )
            )
        states = [got.get(i, {}) for i in range(self.num_shards)]
        return {**states[0], "shards": states}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put a checkpoint's replay back into the shards (see ``shard_states``)."""
        states = shard_states(state, self.num_shards)
        self.get(
            [h.load_state_dict.remote(s) for h, s in zip(self.handles, states, strict=True) if s]
        )

    def close(self) -> None:
        pass


def shard_states(state: dict[str, Any], num_shards: int) -> list[dict[str, Any]]:
    """The state of each of ``num_shards`` shards from a checkpoint's replay state: a sharded
    one needs the same number of shards; a plain one (one process, or an older Ray run) goes
    to shard 0 and the others start empty (``{}``)."""
    shards = state.get("shards")
    if shards is None:
        return [{k: v for k, v in state.items()}] + [{}] * (num_shards - 1)
    if len(shards) != num_shards:
        raise ParameterError(
            f"the checkpoint's replay has {len(shards)} shards, this run asks for {num_shards}",
            fix=f"resume with --replay-shards {len(shards)}",
        )
    return list(shards)
