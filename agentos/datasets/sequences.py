"""The sequence dataset component: a recorded Minari dataset as R2D2's sequences with burn-in.

It plays the ``replay`` role for recurrent learners (R2D2, ``r2d2_cql``) and *is* a
``PrioritizedSequenceReplay`` holding every sequence of the dataset, so ``sample`` yields what
prioritized sequence replay yields (keys, ``[B, T]`` step arrays with the start state,
importance weights) and ``update_priorities`` works as online: the learners need no change.

The sequences are made by the R2D2 actor's own ``SequenceAdder``
(``agentos.agents.r2d2.adder``), run over each episode of the dataset in turn as one
environment: ``T = burn_in + trace_length`` steps, a new one every ``period`` steps, the
episode's final observation appended (discount 0 if it terminated, 1 if truncated), zero padding
with mask 0. An episode whose last step is neither terminated nor truncated is treated as
truncated there (bootstrapped), as ``uniform_replay``'s n-step sums treat it.

Start state. A dataset recorded by a recurrent actor (``agentos record`` with R2D2's) keeps the
LSTM state the actor acted from at each step (``lstm_h``, ``lstm_c`` in the episode's
``infos``: ``agentos.datasets.storage.STATE_EXTRAS``); each sequence then starts from the state
stored at its first step, as online R2D2's "stored state" strategy does (Kapturowski et al.
2019, section 3, https://openreview.net/forum?id=r1lyTjAqYX), the state of the recording
network, as stale as replay's. A dataset without them (any other actor, Minari datasets from
elsewhere) starts every sequence from the zero state (``lstm_h = lstm_c = 0``, ``state_size``
wide): R2D2's "zero start state" strategy, whose mismatch the burn-in steps reduce.
``start_state = zero`` forces that for every dataset. A stored state of another width than
``state_size`` (a network of another size) is refused.

Like the transition dataset (``agentos.datasets.component``) it is read-only, checks the
dataset's digest, spaces and contents, and keeps only the sampler's state (priorities, sum tree,
rng) and the digest in checkpoints; a resume on another dataset is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.datasets.component import DatasetSource, check_spaces_match
from agentos.datasets.storage import (
    STATE_EXTRAS,
    DatasetError,
    Episode,
    find_dataset,
    read_episodes,
)
from agentos.datasets.storage import verify as verify_dataset
from agentos.errors import ParameterError
from agentos.replay.prioritized import PrioritizedSequenceReplay
from agentos.runtime.roles import BuildContext

logger = logging.getLogger(__name__)

STATE_KEYS = STATE_EXTRAS
"""The start-state arrays of each sequence (``agentos.agents.r2d2.actor.STATE_KEYS``)."""


class _Collector:
    """What the adder writes into: the sequences, in order."""

    def __init__(self) -> None:
        self.batches: list[dict[str, np.ndarray]] = []

    def add_items(self, items: dict[str, np.ndarray]) -> None:
        self.batches.append(items)


def dataset_sequences(
    episodes: list[Episode],
    burn_in: int,
    trace_length: int,
    period: int,
    state_size: int,
    stored_state: bool = True,
) -> dict[str, np.ndarray]:
    """Every sequence the R2D2 ``SequenceAdder`` cuts from ``episodes`` (played one after
    another in one environment): ``{name: [S, ...]}``. Each starts from the LSTM state stored
    at its first step where the episode has one (and ``stored_state``), else from zeros."""
    from agentos.agents.r2d2.adder import SequenceAdder

    collector = _Collector()
    adder = SequenceAdder(collector, 1, burn_in, trace_length, period)
    zeros = np.zeros((1, state_size), np.float32)
    for ep in episodes:
        stored = stored_state and all(key in ep.extras for key in STATE_KEYS)
        if stored:
            states = {key: np.asarray(ep.extras[key], np.float32) for key in STATE_KEYS}
            for key, value in states.items():
                if value.shape[1:] != (state_size,):
                    resize = (
                        f"learn with the network size it was recorded with (-p "
                        f"network.lstm_size={value.shape[-1]}), or "
                        if value.ndim == 2
                        else ""  # e.g. Agent57's two-network state
                    )
                    raise DatasetError(
                        f"the dataset's stored {key} is {value.shape[1:]} per step, the "
                        f"learner's state is ({state_size},) (state_size)",
                        fix=f"{resize}start from zero states: -p replay.start_state=zero",
                    )
        else:
            state = {key: zeros for key in STATE_KEYS}
        length = len(ep.rewards)
        truncations = np.asarray(ep.truncations, bool).copy()
        terminations = np.asarray(ep.terminations, bool)
        if length and not (terminations[-1] or truncations[-1]):
            truncations[-1] = True  # the data stop here: bootstrap, as for a time limit
        for t in range(length):
            if stored:
                state = {key: value[t : t + 1] for key, value in states.items()}
            adder.add(
                ep.observations[t : t + 1],
                ep.actions[t : t + 1],
                ep.rewards[t : t + 1],
                terminations[t : t + 1],
                truncations[t : t + 1],
                ep.observations[t + 1 : t + 2],
                start_state=state,
            )
    if not collector.batches:
        return {}
    return {
        key: np.concatenate([batch[key] for batch in collector.batches])
        for key in collector.batches[0]
    }


class OfflineSequenceDataset(DatasetSource, PrioritizedSequenceReplay):
    """A recorded dataset as prioritized sequences with burn-in (read-only)."""

    @dataclass(frozen=True)
    class Params:
        """Parameters of the sequence dataset component."""

        dataset: str = ""
        """Name of the Minari dataset, looked up in ``<agent>/.agentos/datasets`` and then the
        user's Minari storage."""
        digest: str = ""
        """``sha256:...`` the dataset must hash to ('': any; still checked against the one
        recorded with it)."""
        burn_in: int = 8
        """Steps at the start of each sequence that only warm up the LSTM state; must equal the
        learner's (``${learner.burn_in}``)."""
        trace_length: int = 32
        """Steps after the burn-in that the loss is computed on (``${learner.trace_length}``)."""
        period: int = 20
        """Steps between the starts of consecutive sequences of an episode."""
        state_size: int = 128
        """Width of the LSTM start state (``${network.lstm_size}``)."""
        start_state: str = "stored"
        """Where sequences start from: ``stored``, the LSTM state recorded with the dataset
        where it has one (else zeros); ``zero``, always zeros."""
        priority_exponent: float = 0.9
        """alpha: sequences are drawn in proportion to ``priority ** alpha`` (0: uniform)."""
        importance_sampling_exponent: float = 0.6
        """beta: importance weights ``(N * P(i)) ** -beta`` (0: none)."""
        batch_size: int = 64
        """Sequences per batch when ``sample`` is called without a batch size."""

        @property
        def checkpoint(self) -> str:
            """What ``PrioritizedSequenceReplay.state_dict`` reads: the sampler is always
            kept (the sequences themselves are rebuilt from the dataset)."""
            return "all"

        def __post_init__(self) -> None:
            from agentos.agents.r2d2.adder import check_sequence_params

            check_sequence_params(self.burn_in, self.trace_length, self.period)
            if self.state_size < 1:
                raise ParameterError(f"state_size must be >= 1, got {self.state_size}")
            if self.start_state not in ("stored", "zero"):
                raise ParameterError(
                    f"start_state must be 'stored' or 'zero', got {self.start_state!r}"
                )

    def __init__(self, params: Params, context: BuildContext, **dependencies: Any):
        if not params.dataset:
            raise DatasetError(
                "no dataset set for the sequence dataset component",
                fix="record one (`agentos record --episodes 100 --dataset NAME`) and set "
                "`-p replay.dataset=NAME`",
            )
        folder = find_dataset(context.agent_dir, params.dataset)
        digest = verify_dataset(folder, params.dataset, params.digest)
        episodes, obs_space, act_space = read_episodes(folder, params.dataset)
        check_spaces_match(params.dataset, obs_space, act_space, context)
        stored_state = params.start_state == "stored"
        sequences = dataset_sequences(
            episodes,
            params.burn_in,
            params.trace_length,
            params.period,
            params.state_size,
            stored_state,
        )
        if not sequences:
            raise DatasetError(
                f"dataset {params.dataset!r} has no step to learn from",
                fix="record the dataset again (`agentos record`) with at least one episode",
            )
        count = len(sequences["action"])
        has_state = any(all(key in ep.extras for key in STATE_KEYS) for ep in episodes)
        replay_params = PrioritizedSequenceReplay.Params(
            capacity=count,
            priority_exponent=params.priority_exponent,
            importance_sampling_exponent=params.importance_sampling_exponent,
            batch_size=params.batch_size,
        )
        super().__init__(replay_params, context, **dependencies)
        self.params = params  # keep the dataset's own parameters visible
        super().add_items(sequences)
        self.folder, self.digest = folder, digest
        self._read_only = True
        self._checkpoint_digest: str | None = None
        steps = int(sum(len(ep.rewards) for ep in episodes))
        self.data_summary = {
            "episodes": len(episodes),
            "steps": steps,
            "sequences": count,
            "return_mean": float(np.mean([np.sum(ep.rewards) for ep in episodes])),
            "start_state": "stored" if stored_state and has_state else "zero",
        }
        logger.info(
            "dataset %s: %d steps, %d episodes -> %d sequences of %d steps from %s states",
            params.dataset,
            steps,
            len(episodes),
            count,
            params.burn_in + params.trace_length,
            self.data_summary["start_state"],
        )

    def add_items(self, items: dict[str, np.ndarray], priorities: Any = None) -> np.ndarray:
        """Refused once built: a dataset is read-only."""
        if getattr(self, "_read_only", False):
            raise DatasetError(
                f"the replay is the recorded dataset {self.params.dataset!r}, which cannot "
                "store new experience",
                fix="learn from it with `agentos learn --offline`, or install a replay "
                "(`agentos install sequence_replay`) to learn online",
            )
        return super().add_items(items, priorities)

    def sample(self, batch_size: int | None = None) -> Any:
        """``PrioritizedSequenceReplay.sample``, refused on a dataset other than the
        checkpoint's."""
        self.check_digest()
        return super().sample(batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state (priorities, sum tree, rng) and the digest; the sequences are
        rebuilt from the dataset."""
        state = super().state_dict()
        state.pop("contents", None)
        return {**state, "digest": self.digest}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the sampler; sampling refuses to continue on a different dataset."""
        if not state:
            return
        self._checkpoint_digest = str(state.get("digest", self.digest))
        if self._checkpoint_digest != self.digest or int(state["size"]) != self._size:
            return  # sample() says why
        contents = {key: value[: self._size] for key, value in self._storage.items()}
        super().load_state_dict({**state, "contents": contents})
