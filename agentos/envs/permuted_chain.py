"""A permuted chain: a sparse-reward hard-exploration task where dithering fails.

The DeepSea idea (Osband et al. 2019, "Deep Exploration via Randomized Value Functions",
https://arxiv.org/abs/1703.07608, and bsuite, https://arxiv.org/abs/1908.03568) in one
dimension: ``length`` cells 0..L-1 in a line, start at cell 0 with a wall on its left. Two
discrete actions; in every cell a fixed random permutation decides which action index moves
right and which moves left, so no constant action preference solves the task and an agent
has to remember a per-cell choice. The permutation is drawn from ``layout_seed`` (a
parameter, not the run seed), so training and evaluation environments share one layout.

Reward 1.0 and termination on reaching cell L-1, 0 on every other step; truncation after
``max_steps`` steps. Observation: one-hot of the current cell (float32, shape [length]).

Why it separates Agent57 from R2D2: a uniformly random policy is a reflected random walk
(at cell 0 the wrong action stays put), whatever the layout. Its chance to reach the goal
within the time limit, computed exactly by ``random_policy_success_probability`` (dynamic
programming over (cell, step)), is, at the default size (length 20, max_steps 40),
4,037,324,000 / 2**40 = 0.0036719... (about 1 episode in 272). Epsilon-greedy
dithering therefore almost never sees a reward, while an intrinsic novelty bonus pulls the
agent to the right edge of what it has visited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agentos.errors import ParameterError
from agentos.runtime.roles import BuildContext, Environment, EnvStep


@dataclass(frozen=True)
class PermutedChainParams:
    """Parameters of the permuted chain."""

    length: int = 20
    """Cells in the chain, start (cell 0) and goal (cell length-1) included; at least 2."""
    max_steps: int = 0
    """Steps before an episode is truncated; 0 means 2 * length. At least length - 1 (the
    shortest path), or the goal would be unreachable."""
    layout_seed: int = 0
    """Seed of the per-cell action permutation; shared by every copy and independent of the
    run seed, so environments built with the same value have the same layout."""
    num_envs: int = 1
    """Copies stepped together."""


def resolved_max_steps(params: PermutedChainParams) -> int:
    """``params.max_steps`` with 0 replaced by its default, 2 * length."""
    return params.max_steps if params.max_steps else 2 * params.length


def _check_params(params: PermutedChainParams) -> None:
    if params.length < 2:
        raise ParameterError(
            f"length must be >= 2 (a start and a goal cell), got {params.length}",
            fix="set environment.length to 2 or more",
        )
    if params.max_steps < 0:
        raise ParameterError(
            f"max_steps must be >= 0 (0 means 2 * length), got {params.max_steps}",
            fix="set environment.max_steps to 0 or a positive number of steps",
        )
    if resolved_max_steps(params) < params.length - 1:
        raise ParameterError(
            f"max_steps={params.max_steps} is shorter than the shortest path to the goal "
            f"({params.length - 1} steps for length={params.length})",
            fix=f"set environment.max_steps to at least {params.length - 1}, or 0 for 2 * length",
        )
    if params.num_envs < 1:
        raise ParameterError(
            f"num_envs must be >= 1, got {params.num_envs}",
            fix="set environment.num_envs to 1 or more",
        )


def chain_layout(length: int, layout_seed: int) -> np.ndarray:
    """[length] int64: the action index that moves right in each cell (the other moves left).

    The last cell is terminal, so its entry is never used.
    """
    return np.random.default_rng(layout_seed).integers(2, size=length).astype(np.int64)


def random_policy_success_probability(length: int, max_steps: int) -> float:
    """Probability that uniformly random actions reach cell length-1 within max_steps steps.

    The layout does not matter: in every cell one of the two actions goes right, so each step
    goes right with probability 1/2, else left (or stays, at the wall in cell 0). Dynamic
    programming over (cell, step): ``p[c]`` is the probability of being in cell c at step t
    without having reached the goal yet; mass that reaches the goal is absorbed.
    """
    if length < 2 or max_steps < 0:
        raise ParameterError(
            f"need length >= 2 and max_steps >= 0, got length={length}, max_steps={max_steps}"
        )
    goal = length - 1
    p = np.zeros(length, np.float64)  # p[goal] stays 0: the goal absorbs
    p[0] = 1.0
    reached = 0.0
    for _ in range(max_steps):
        right = np.zeros_like(p)
        right[1:] = 0.5 * p[:-1]
        left = np.zeros_like(p)
        left[:-1] = 0.5 * p[1:]
        left[0] += 0.5 * p[0]  # the wall: "left" from cell 0 stays in cell 0
        p = right + left
        reached += p[goal]
        p[goal] = 0.0
    return float(reached)


class PermutedChain(Environment):
    """N copies of a permuted chain with automatic reset; all copies share one layout."""

    Params = PermutedChainParams

    def __init__(self, params: PermutedChainParams, context: BuildContext, **dependencies: Any):
        super().__init__(params, context)
        _check_params(params)
        self.num_envs = params.num_envs
        self.max_steps = resolved_max_steps(params)
        self.observation_space, self.action_space = self.spaces(params)
        self.right_action = chain_layout(params.length, params.layout_seed)
        self._cell = np.zeros(params.num_envs, np.int64)
        self._t = np.zeros(params.num_envs, np.int64)

    @classmethod
    def spaces(cls, params: PermutedChainParams) -> tuple[Any, Any]:
        """A one-hot Box over the cells and two discrete actions."""
        from gymnasium import spaces

        _check_params(params)
        return spaces.Box(0.0, 1.0, (params.length,), np.float32), spaces.Discrete(2)

    def _observe(self) -> np.ndarray:
        obs = np.zeros((self.num_envs, self.params.length), np.float32)
        obs[np.arange(self.num_envs), self._cell] = 1.0
        return obs

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Every copy back to cell 0 (the layout comes from ``layout_seed``, not ``seed``)."""
        self._cell[:] = 0
        self._t[:] = 0
        return self._observe()

    def step(self, action: np.ndarray) -> EnvStep:
        """Move every copy one cell right or left, as this cell's permutation says."""
        action = np.asarray(action).reshape(self.num_envs)
        goes_right = action == self.right_action[self._cell]
        self._cell = np.where(goes_right, self._cell + 1, np.maximum(self._cell - 1, 0))
        self._t += 1
        terminated = self._cell == self.params.length - 1
        truncated = ~terminated & (self._t >= self.max_steps)
        reward = terminated.astype(np.float32)
        final = self._observe()
        done = terminated | truncated
        self._cell[done] = 0
        self._t[done] = 0
        return EnvStep(self._observe(), reward, terminated, truncated, final)

    def state_dict(self) -> dict[str, Any]:
        """Cells and step counters of every copy (the layout follows from the params)."""
        return {"cell": self._cell.copy(), "t": self._t.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (the chain is deterministic: cells and step
        counters are the whole state, so the episodes in progress continue)."""
        cell = np.asarray(state["cell"], np.int64)
        self._restored = cell.shape == self._cell.shape
        if self._restored:
            self._cell = cell.copy()
            self._t = np.asarray(state["t"], np.int64).copy()

    def continues_episodes(self) -> bool:
        """True after ``load_state_dict`` of a state with as many copies as this one."""
        return getattr(self, "_restored", False)
