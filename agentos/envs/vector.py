"""Copies of an environment in subprocesses: gymnasium's AsyncVectorEnv over groups of copies.

One subprocess per copy (gymnasium's and SB3's way) pays a pipe round trip per copy and
step, and on a machine with fewer cores than copies the processes mostly wait for each
other. Here the N copies are split into W equal groups (W = the CPU cores by default), each
group a ``SyncVectorEnv`` in one ``AsyncVectorEnv`` worker: W round trips a step, and every
core busy. A group resets its finished copies itself and returns each copy's observation
together with its true last one, through AsyncVectorEnv's shared memory (no pickling of
frames).

Subprocesses start from a forkserver, so they do not inherit this process's threads (JAX's);
as with any multiprocessing start method other than fork, a script that builds async copies
needs the ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
from typing import Any

import numpy as np

from agentos.errors import AgentOSError


def group_count(num_envs: int, workers: int) -> int:
    """The number of groups: ``workers``, or (0) the most cores that divide ``num_envs``."""
    if workers:
        if workers < 1 or num_envs % workers:
            raise AgentOSError(
                f"async_workers={workers} does not split num_envs={num_envs} into equal groups",
                fix="give a divisor of num_envs, or 0 for one worker per CPU core",
            )
        return workers
    cores = max(os.cpu_count() or 1, 1)
    return max(d for d in range(1, min(cores, num_envs) + 1) if num_envs % d == 0)


class CopyGroup:
    """k copies stepped in one worker process, reset there when their episodes end.

    Observations are ``[k, 2, ...]``: index 0 the observation to act on, index 1 the true
    next observation of the transition (they differ where an episode ended).
    """

    metadata: dict[str, Any] = {}
    render_mode = None
    spec = None

    def __init__(self, factory: Any, copies: int):
        from gymnasium.vector import AutoresetMode, SyncVectorEnv
        from gymnasium.vector.utils import batch_space

        if multiprocessing.parent_process() is not None:
            # A worker: Ctrl-C reaches the whole process group, and the main process answers
            # it (checkpoint, then closing the workers), so workers leave SIGINT to it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        self._vec = SyncVectorEnv([factory] * copies, autoreset_mode=AutoresetMode.DISABLED)
        pair = batch_space(self._vec.single_observation_space, 2)
        self.observation_space = batch_space(pair, copies)
        self.action_space = self._vec.action_space
        self.np_random = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every copy of the group (copy i seeded ``seed + i``)."""
        obs, _ = self._vec.reset(seed=seed)
        return np.stack([obs, obs], axis=1), {}

    def step(self, actions: Any):
        """Step the copies; finished ones are reset here."""
        obs, reward, terminated, truncated, _ = self._vec.step(actions)
        done = np.logical_or(terminated, truncated)
        final = obs
        if done.any():
            final = obs.copy()
            obs, _ = self._vec.reset(options={"reset_mask": done})
        return np.stack([obs, final], axis=1), reward, terminated, truncated, {}

    def render_group(self) -> list[Any]:
        """Every copy's current frame."""
        return [env.render() for env in self._vec.envs]

    def close(self) -> None:
        """Close the group's copies."""
        self._vec.close()

    @property
    def unwrapped(self) -> CopyGroup:
        return self

    def get_wrapper_attr(self, name: str) -> Any:
        """What AsyncVectorEnv's ``call`` asks a worker's environment for."""
        return getattr(self, name)


class AsyncCopies:
    """N copies in W worker processes; ``step`` returns copies' results with resets done."""

    def __init__(self, factory: Any, num_envs: int, workers: int = 0):
        from gymnasium.vector import AsyncVectorEnv, AutoresetMode

        self.num_envs = num_envs
        self.groups = group_count(num_envs, workers)
        self.per_group = num_envs // self.groups
        probe = factory()
        self.single_observation_space = probe.observation_space
        self.single_action_space = probe.action_space
        probe.close()
        try:
            multiprocessing.set_forkserver_preload(["gymnasium", "numpy"])
        except ValueError:  # the forkserver already runs
            pass
        make_group = functools.partial(CopyGroup, factory, self.per_group)
        self._vec = AsyncVectorEnv(
            [make_group] * self.groups,  # type: ignore[list-item]
            autoreset_mode=AutoresetMode.DISABLED,
            context="forkserver",
        )

    def _split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = obs.reshape((self.num_envs, 2) + obs.shape[3:])
        return flat[:, 0], flat[:, 1]

    def reset(self, seeds: list[int]) -> np.ndarray:
        """Reset every copy; copy i gets ``seeds[i]`` (consecutive within a group)."""
        obs, _ = self._vec.reset(seed=[seeds[g * self.per_group] for g in range(self.groups)])
        return self._split(obs)[0]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, ...]:
        """(observation, reward, terminated, truncated, final observation), each [N, ...]."""
        grouped = np.asarray(action).reshape((self.groups, self.per_group) + action.shape[1:])
        obs, reward, terminated, truncated, _ = self._vec.step(grouped)
        current, final = self._split(obs)
        n = self.num_envs
        return (
            current,
            np.asarray(reward, np.float32).reshape(n),
            np.asarray(terminated, bool).reshape(n),
            np.asarray(truncated, bool).reshape(n),
            final,
        )

    def render_copies(self, indices: Any) -> list[np.ndarray]:
        """Frames of the copies in ``indices`` (every group renders; a rare, debugging call)."""
        groups = self._vec.call("render_group")
        flat = [frame for group in groups for frame in group]
        return [flat[int(i)] for i in indices]

    def close(self) -> None:
        """End every worker: politely, then by force if one died (Ctrl-C reaches them too)."""
        try:
            self._vec.close(timeout=5)
        except Exception:
            self._vec.close(terminate=True)
