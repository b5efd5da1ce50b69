"""The sequence adder: cuts each environment's trajectory into fixed-length, overlapping
sequences for prioritized sequence replay (R2D2, Kapturowski et al. 2019, section 2.3,
https://openreview.net/forum?id=r1lyTjAqYX ; reused by Agent57).

Cutting
-------
Every sequence holds ``T = burn_in + trace_length`` steps. Within an episode a new sequence
starts every ``period`` steps (R2D2: 80 steps with period 40, so consecutive sequences overlap
by half), and the recurrent state the actor had at the sequence's first step is stored with it
(keys of ``start_state``, e.g. ``lstm_h`` and ``lstm_c``). A sequence never spans two episodes:
at the end of an episode the open sequences are emitted, each padded to ``T`` with zeros and a
0 mask. Sequences whose trace part (after the burn-in) would hold no real action are dropped,
since no loss could come from them. Sequences finished during one ``add`` call go to the
replay together, with one ``replay.add_items`` call.

An episode's first sequence starts ``burn_in`` padding steps before ``x_0`` (mask 0, zero
observations, the first step's extras such as its arm), so the trace of the first sequence
starts at ``x_0``. Otherwise the first ``burn_in`` steps of every episode would only ever be
burn-in and never get a loss, and a short episode none at all. The learner knows such a
sequence by its burn-in being all padding, and starts its trace from the stored state (the
actor's state at ``x_0``) instead of unrolling over the padding (``state_after_burn_in``). The
next sequence starts ``period`` steps later, or at ``x_0`` where that would still be padding
(``period < burn_in``), so no other sequence holds padding before its real steps.

Alignment (the one of ``agentos.agents.r2d2.losses``)
-----------------------------------------------------
Step ``t`` of an episode is recorded as::

    observation  x_t
    action       a_t                      taken in x_t
    reward       r_t                      received on arriving at x_t, after a_{t-1} (0 at t=0)
    discount     gamma_t                  0 if x_t is terminal, else 1 (the learner multiplies
                                          by its gamma)
    prev_action  a_{t-1}                  the network input (0 at t=0); = action[t-1] inside a
                                          sequence
    prev_reward  r_t                      the network input; = reward[t]
    mask         1                        a real action was taken in x_t
    <step extra> e.g. mu_t = mu(a_t|x_t)  the behaviour probability, for Retrace

so ``reward[t]`` and ``discount[t]`` belong to the transition ``(x_{t-1}, a_{t-1}) -> x_t``
and the target for ``Q(x_t, a_t)`` starts with ``reward[t + 1]``. When an episode ends after
``a_{T-1}``, its final observation ``x_T`` is appended as one more step: observation ``x_T``,
reward ``r_T``, discount 0 if the episode terminated or 1 if it was truncated by a time limit
(the learner bootstraps from ``x_T``), ``prev_action a_{T-1}``, ``prev_reward r_T``, action 0,
step extras 0 and mask 0. So the last real action still gets a target. Padding steps after it
are all zeros (discount 0, mask 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.errors import ParameterError

OBSERVATION = "observation"
ACTION = "action"
REWARD = "reward"
DISCOUNT = "discount"
PREV_ACTION = "prev_action"
PREV_REWARD = "prev_reward"
MASK = "mask"
STEP_FIELDS = (OBSERVATION, ACTION, REWARD, DISCOUNT, PREV_ACTION, PREV_REWARD, MASK)
"""The per-step arrays of every stored sequence ([T, ...] each), besides the step extras."""


@dataclass(frozen=True)
class SequenceParams:
    """How trajectories are cut into sequences (the R2D2 actor's parameters use these)."""

    burn_in: int = 8
    """Steps at the start of each sequence used only to warm up the LSTM state (R2D2: 40)."""
    trace_length: int = 32
    """Steps after the burn-in that the loss is computed on (R2D2: 80)."""
    period: int = 20
    """Steps between the starts of consecutive sequences (R2D2: 40); at most the sequence
    length burn_in + trace_length. Keep it <= trace_length - n_step so every action gets a
    target in some sequence."""

    def __post_init__(self) -> None:
        check_sequence_params(self.burn_in, self.trace_length, self.period)

    @property
    def sequence_length(self) -> int:
        """``burn_in + trace_length``."""
        return self.burn_in + self.trace_length


def check_sequence_params(burn_in: int, trace_length: int, period: int) -> None:
    """ParameterError unless ``burn_in >= 0``, ``trace_length >= 2``, ``1 <= period <= T``."""
    if burn_in < 0:
        raise ParameterError(f"burn_in must be >= 0, got {burn_in}")
    if trace_length < 2:
        raise ParameterError(f"trace_length must be >= 2, got {trace_length}")
    if not 1 <= period <= burn_in + trace_length:
        raise ParameterError(
            f"period must be in [1, burn_in + trace_length = {burn_in + trace_length}], "
            f"got {period}"
        )


class SequenceAdder:
    """Per-environment buffers that emit fixed-length sequences into a sequence replay.

    ``add`` takes one step of all N environments (the loop's ``Transition`` fields plus the
    recurrent state and per-step extras); ``replay`` needs ``add_items(items)``. The buffers
    are arrays ``[N, T, ...]`` per field, written for all environments at once; only the
    environments that emit a sequence at a step are visited one by one.
    """

    def __init__(
        self,
        replay: Any,
        num_envs: int,
        burn_in: int,
        trace_length: int,
        period: int,
        reward_shape: tuple[int, ...] = (),
    ):
        """``reward_shape``: the shape of one environment's reward (``()``: a scalar; Agent57
        stores (extrinsic, intrinsic) rewards with shape ``(2,)``)."""
        check_sequence_params(burn_in, trace_length, period)
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.replay = replay
        self.num_envs = int(num_envs)
        self.burn_in = int(burn_in)
        self.trace_length = int(trace_length)
        self.period = int(period)
        self.sequence_length = self.burn_in + self.trace_length
        self.reward_shape = tuple(int(d) for d in reward_shape)
        self.sequences_added = 0
        # Made at the first step, when the shapes and dtypes of the fields are known.
        self._steps: dict[str, np.ndarray] = {}
        self._states: dict[str, np.ndarray] = {}
        self._reset_all()

    def _reset_all(self) -> None:
        n = self.num_envs
        # Steps held per environment, from the start of its oldest open sequence.
        self._lengths = np.zeros(n, dtype=np.int64)
        # Whether the next step of each environment is the first of an episode.
        self._episode_start = np.ones(n, dtype=bool)
        # Padding steps at the front of each environment's buffer (before x_0).
        self._pads = np.zeros(n, dtype=np.int64)
        self._prev_action = np.zeros(n, dtype=np.int32)  # a_{t-1}
        self._reward_in = np.zeros((n, *self.reward_shape), dtype=np.float32)  # r_t

    def drop_open_sequences(self) -> None:
        """Forget every environment's unfinished sequences (their episodes will not go on)."""
        self._reset_all()

    def _allocate(self, step: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray]) -> None:
        """Buffers ``[N, T, ...]`` shaped like one step of each field (rows ``[N, ...]``)."""
        shape = (self.num_envs, self.sequence_length)
        self._steps = {k: np.zeros(shape + v.shape[1:], v.dtype) for k, v in step.items()}
        self._states = {k: np.zeros(shape + v.shape[1:], v.dtype) for k, v in state.items()}

    def _write(
        self,
        rows: np.ndarray,
        step: Mapping[str, np.ndarray],
        state: Mapping[str, np.ndarray],
    ) -> None:
        """Append one step to the buffers of the environments ``rows``."""
        if set(step) != set(self._steps) or set(state) != set(self._states):
            raise ValueError(
                f"the adder got fields {sorted(step)} / states {sorted(state)}, it was "
                f"made for {sorted(self._steps)} / {sorted(self._states)}"
            )
        columns = self._lengths[rows]
        for key, value in step.items():
            self._steps[key][rows, columns] = value
        for key, value in state.items():
            self._states[key][rows, columns] = value
        self._lengths[rows] += 1

    # --- adding -----------------------------------------------------------------------
    def add(
        self,
        observation: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_observation: np.ndarray,
        *,
        start_state: Mapping[str, np.ndarray],
        step_extras: Mapping[str, np.ndarray] | None = None,
    ) -> int:
        """Record one step ``(x_t, a_t, r_{t+1}, x_{t+1})`` of each of the N environments.

        Args:
            observation: [N, ...] x_t.
            action: [N] a_t.
            reward: [N] r_{t+1}, received after a_t.
            terminated, truncated: [N] whether the episode ended after a_t.
            next_observation: [N, ...] x_{t+1} (the true final observation where one ended).
            start_state: {name: [N, ...]} the recurrent state the actor had when it acted in
                x_t; stored with a sequence that starts at this step.
            step_extras: {name: [N]} per-step values stored with every step (e.g. ``mu``).

        Returns:
            N, the number of env steps recorded.
        """
        observation = np.asarray(observation)
        next_observation = np.asarray(next_observation)
        action = np.asarray(action)
        reward = np.asarray(reward, dtype=np.float32)
        if reward.shape[1:] != self.reward_shape:
            raise ValueError(
                f"rewards of shape {reward.shape[1:]} per environment, the adder expects "
                f"{self.reward_shape}"
            )
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        num = action.shape[0]
        if num != self.num_envs:
            raise ValueError(f"adder made for {self.num_envs} environments, got {num}")
        extras = {k: np.asarray(v, dtype=np.float32) for k, v in (step_extras or {}).items()}
        state = {k: np.asarray(v) for k, v in start_state.items()}
        ones = np.ones(num, dtype=np.float32)
        step = {
            OBSERVATION: observation,
            ACTION: action.astype(np.int32),
            REWARD: self._reward_in,
            DISCOUNT: ones,
            PREV_ACTION: self._prev_action,
            PREV_REWARD: self._reward_in,
            MASK: ones,
            **extras,
        }
        if not self._steps:
            self._allocate(step, state)
        if self.burn_in and self._episode_start.any():
            self._pad_episode_starts(np.flatnonzero(self._episode_start), step, state)
        self._episode_start[:] = False
        self._write(np.arange(num), step, state)
        self._prev_action = action.astype(np.int32)
        self._reward_in = reward.copy()

        ended = terminated | truncated
        full = self._lengths == self.sequence_length
        emitted: list[dict[str, np.ndarray]] = []
        for i in map(int, np.flatnonzero(full | ended)):
            if full[i]:
                emitted.append(self._cut(i))
                self._drop_period(i)
            if ended[i]:
                final = {
                    OBSERVATION: next_observation[i : i + 1],
                    ACTION: np.zeros(1, np.int32),
                    REWARD: reward[i : i + 1],
                    DISCOUNT: np.array([0.0 if terminated[i] else 1.0], np.float32),
                    PREV_ACTION: self._prev_action[i : i + 1],
                    PREV_REWARD: reward[i : i + 1],
                    MASK: np.zeros(1, np.float32),
                    **{k: np.zeros_like(v[i : i + 1]) for k, v in extras.items()},
                }
                zero_state = {k: np.zeros_like(v[i : i + 1]) for k, v in state.items()}
                self._write(np.array([i]), final, zero_state)
                # Emit every open sequence whose trace holds a real action.
                while self._steps[MASK][i, self.burn_in : self._lengths[i]].sum() > 0:
                    emitted.append(self._cut(i))
                    self._drop_period(i)
                self._lengths[i] = 0
                self._pads[i] = 0
                self._episode_start[i] = True
                self._prev_action[i] = 0
                self._reward_in[i] = 0.0
        if emitted:
            items = {key: np.stack([seq[key] for seq in emitted]) for key in emitted[0]}
            self.replay.add_items(items)
            self.sequences_added += len(emitted)
        return num

    def _pad_episode_starts(
        self, rows: np.ndarray, step: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray]
    ) -> None:
        """``burn_in`` padding steps before the first step of the environments ``rows``: zero
        fields with mask 0, but the first step's extras (e.g. Agent57's arm) and its state."""
        b = self.burn_in
        for key, buffer in self._steps.items():
            if key in STEP_FIELDS:
                buffer[rows, :b] = 0
            else:
                buffer[rows, :b] = np.asarray(step[key])[rows, None]
        for key, buffer in self._states.items():
            buffer[rows, :b] = np.asarray(state[key])[rows, None]
        self._lengths[rows] = b
        self._pads[rows] = b

    def _cut(self, i: int) -> dict[str, np.ndarray]:
        """Environment ``i``'s oldest open sequence, padded with zeros to ``T`` steps."""
        length = int(self._lengths[i])
        sequence = {}
        for key, buffer in self._steps.items():
            values = buffer[i].copy()
            values[length:] = 0
            sequence[key] = values
        for key, buffer in self._states.items():
            sequence[key] = buffer[i, 0].copy()
        return sequence

    def _drop_period(self, i: int) -> None:
        """Forget environment ``i``'s first ``period`` steps (its oldest sequence's start), or
        all its padding if that is longer: the next sequence starts at ``x_0`` at the latest."""
        drop = max(self.period, int(self._pads[i]))
        keep = max(int(self._lengths[i]) - drop, 0)
        for buffer in (*self._steps.values(), *self._states.values()):
            buffer[i, :keep] = buffer[i, drop : drop + keep]
        self._lengths[i] = keep
        self._pads[i] = 0

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The open buffers and per-environment alignment state, as plain arrays."""
        envs = []
        for i in range(self.num_envs):
            length = int(self._lengths[i])
            envs.append(
                {
                    "steps": {k: v[i, :length].copy() for k, v in self._steps.items()}
                    if length
                    else {},
                    "states": {k: v[i, :length].copy() for k, v in self._states.items()}
                    if length
                    else {},
                    "length": length,
                    "episode_start": bool(self._episode_start[i]),
                    "pads": int(self._pads[i]),
                    "prev_action": int(self._prev_action[i]),
                    "reward_in": self._reward_in[i].copy(),
                }
            )
        return {"envs": envs, "sequences_added": int(self.sequences_added)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        envs = state["envs"]
        if len(envs) != self.num_envs:
            raise ValueError(
                f"adder state is for {len(envs)} environments, this adder has {self.num_envs}"
            )
        self._reset_all()
        for i, env in enumerate(envs):
            length = int(env["length"])
            if length:
                steps = {k: np.asarray(v) for k, v in env["steps"].items()}
                states = {k: np.asarray(v) for k, v in env["states"].items()}
                if not self._steps:
                    self._allocate(
                        {k: v[:1] for k, v in steps.items()}, {k: v[:1] for k, v in states.items()}
                    )
                for t in range(length):
                    self._write(
                        np.array([i]),
                        {k: v[t : t + 1] for k, v in steps.items()},
                        {k: v[t : t + 1] for k, v in states.items()},
                    )
            # Saved before episode starts were recorded: an empty buffer was one.
            self._episode_start[i] = bool(env.get("episode_start", length == 0))
            self._pads[i] = int(env.get("pads", 0))
            self._prev_action[i] = int(env["prev_action"])
            self._reward_in[i] = np.asarray(env["reward_in"], dtype=np.float32).reshape(
                self.reward_shape
            )
        self.sequences_added = int(state.get("sequences_added", 0))
