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

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from agentos.errors import AgentOSError

logger = logging.getLogger(__name__)


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


@contextlib.contextmanager
def _quiet_setup() -> Iterator[None]:
    """agentos's warnings about building a copy muted: the main process built a probe copy
    and gave them once already (each worker would repeat them)."""
    envs_logger = logging.getLogger("agentos.envs")
    level = envs_logger.level
    envs_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        envs_logger.setLevel(level)


class CopyGroup:
    """k copies stepped in one worker process, reset there when their episodes end.

    Observations are ``[k, 2, ...]``: index 0 the observation to act on, index 1 the true
    next observation of the transition (they differ where an episode ended).
    """

    metadata: dict[str, Any] = {}
    render_mode = None
    spec = None

    def __init__(self, factory: Any, copies: int):
        from gymnasium.vector.utils import batch_space

        in_worker = multiprocessing.parent_process() is not None
        if in_worker:
            # A worker: Ctrl-C reaches the whole process group, and the main process answers
            # it (checkpoint, then closing the workers), so workers leave SIGINT to it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        with _quiet_setup() if in_worker else contextlib.nullcontext():
            self.envs = [factory() for _ in range(copies)]
        single = self.envs[0].observation_space
        self.observation_space = batch_space(batch_space(single, 2), copies)
        self.action_space = batch_space(self.envs[0].action_space, copies)
        self.np_random = None
        # One buffer written in place each step (AsyncVectorEnv copies it to shared memory).
        space = self.observation_space
        self._out = np.zeros(tuple(space.shape or ()), np.dtype(space.dtype))
        self._reward = np.zeros(copies, np.float64)
        self._terminated = np.zeros(copies, bool)
        self._truncated = np.zeros(copies, bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Reset every copy of the group (copy i seeded ``seed + i``)."""
        for i, env in enumerate(self.envs):
            obs, _ = env.reset(seed=None if seed is None else seed + i)
            self._out[i, 0] = obs
            self._out[i, 1] = obs
        return self._out, {}

    def step(self, actions: Any):
        """Step the copies; finished ones are reset here (the true last observation kept)."""
        for i, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            obs, reward, terminated, truncated, _ = env.step(action)
            self._out[i, 1] = obs
            self._reward[i], self._terminated[i], self._truncated[i] = reward, terminated, truncated
            if terminated or truncated:
                obs, _ = env.reset()
            self._out[i, 0] = obs
        return self._out, self._reward, self._terminated, self._truncated, {}

    def render_group(self) -> list[Any]:
        """Every copy's current frame."""
        return [env.render() for env in self.envs]

    def close(self) -> None:
        """Close the group's copies."""
        for env in self.envs:
            env.close()

    @property
    def unwrapped(self) -> CopyGroup:
        return self

    def get_wrapper_attr(self, name: str) -> Any:
        """What AsyncVectorEnv's ``call`` asks a worker's environment for."""
        return getattr(self, name)


@contextlib.contextmanager
def _worker_errors_to_log(label: str, call: str) -> Iterator[None]:
    """gymnasium's AsyncVectorEnv reports a worker's error as warnings holding the worker's
    traceback before it raises the error here, without it: the error becomes one message
    naming where the worker raised it (as ``GymEnvironment._failed`` does for sync copies),
    and the traceback goes to the debug log (``--debug``)."""
    import re

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except Exception as error:
            # where the worker raised it (the error re-raised here has no traceback of it)
            traces = [str(w.message) for w in caught if "Traceback" in str(w.message)]
            places = re.findall(r'File "([^"]+)", line (\d+)', traces[-1]) if traces else []
            if not places or isinstance(error, AgentOSError):
                raise
            raise AgentOSError(
                f"the environment {label} failed in {call}: {type(error).__name__}: {error} "
                f"at {places[-1][0]}:{places[-1][1]}",
                fix="fix the environment (or its kwargs/wrappers in the spec); --debug shows "
                "the worker's traceback",
            ) from error
        finally:
            for w in caught:
                text = str(w.message)
                if "Worker-" in text or "Traceback" in text or "last exception back" in text:
                    logger.debug("async environment worker: %s", text)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


class AsyncCopies:
    """N copies in W worker processes; ``step`` returns copies' results with resets done."""

    def __init__(self, factory: Any, num_envs: int, workers: int = 0):
        from gymnasium.vector import AsyncVectorEnv, AutoresetMode

        self.num_envs = num_envs
        self._label = factory.label()
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
            copy=False,  # the shared buffer is read once per step, by _split
        )

    def _split(self, obs: np.ndarray, ended: bool) -> tuple[np.ndarray, np.ndarray]:
        """(observations, final observations) copied out of the shared buffer; one array
        serves both when no episode ``ended``."""
        flat = obs.reshape((self.num_envs, 2) + obs.shape[3:])
        current = flat[:, 0].copy()
        return current, (flat[:, 1].copy() if ended else current)

    def reset(self, seeds: list[int]) -> np.ndarray:
        """Reset every copy; copy i gets ``seeds[i]`` (consecutive within a group)."""
        with _worker_errors_to_log(self._label, "reset()"):
            obs, _ = self._vec.reset(seed=[seeds[g * self.per_group] for g in range(self.groups)])
        return self._split(obs, False)[0]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, ...]:
        """(observation, reward, terminated, truncated, final observation), each [N, ...]."""
        grouped = np.asarray(action).reshape((self.groups, self.per_group) + action.shape[1:])
        with _worker_errors_to_log(self._label, "step()"):
            obs, reward, terminated, truncated, _ = self._vec.step(grouped)
        n = self.num_envs
        terminated = np.asarray(terminated, bool).reshape(n)
        truncated = np.asarray(truncated, bool).reshape(n)
        current, final = self._split(obs, bool((terminated | truncated).any()))
        return current, np.asarray(reward, np.float32).reshape(n), terminated, truncated, final

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
