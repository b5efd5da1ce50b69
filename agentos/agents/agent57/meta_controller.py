"""The Agent57 meta-controller: a sliding-window UCB bandit over the arms of the mixture.

Agent57 (Badia et al. 2020), section 4 ("Adaptive exploration over a family of policies") and
App. E, https://arxiv.org/abs/2003.13350 . Each actor runs its own bandit over the N arms
``(beta_j, gamma_j)`` (``mixtures.py``); the bandit reward of an episode is its undiscounted
extrinsic return. The bandit is the sliding-window UCB of Garivier & Moulines (2008), "On
Upper-Confidence Bound Policies for Non-Stationary Bandit Problems",
https://arxiv.org/abs/0805.3415 , with epsilon-greedy exploration on top:

- episodes ``k = 0 .. N-1`` play arm ``k`` (each arm once, in order);
- afterwards, with probability ``epsilon`` a uniformly random arm, otherwise

      argmax_a  mu_{k-1}(a, tau) + beta * sqrt(1 / N_{k-1}(a, tau))

  where ``N_{k-1}(a, tau)`` counts arm ``a`` among the last ``tau`` (arm, return) pairs and
  ``mu_{k-1}(a, tau)`` is the mean of their returns. An arm absent from the window has an
  infinite bonus and is chosen first; ties go to the lowest index.

Paper values: ``beta = 1``; actors ``tau = 160, epsilon = 0.5``; the evaluator ``tau = 3600,
epsilon = 0.01``. The evaluator here alternates bandit episodes with greedy-arm episodes
(``EvaluatorMetaController``); the public DRLearner code had a greedy mode that never ran.

Every controller has ``state_dict`` / ``load_state_dict`` (windows, counters and the exact
random-generator state), so that a run resumed from a checkpoint makes the same choices.
"""

from __future__ import annotations

import collections
import copy
import logging
import math
import numbers
from typing import Any

import numpy as np

from agentos.errors import CheckpointError, ParameterError

logger = logging.getLogger(__name__)

BANDIT = "bandit"
GREEDY = "greedy"


def _check_int(name: str, value: Any, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}", fix=fix)
    return int(value)


def _check_arm(arm: Any, num_arms: int) -> int:
    fix = f"pass an arm index in [0, {num_arms})"
    arm = _check_int("arm", arm, 0, fix=fix)
    if arm >= num_arms:
        raise ParameterError(f"arm must be < num_arms = {num_arms}, got {arm}", fix=fix)
    return arm


def _check_return(value: Any) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(
            f"the bandit reward must be finite, got {value!r}",
            fix="pass the episode's undiscounted extrinsic return",
        )
    return value


def _as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise ParameterError(
        f"rng must be a numpy Generator, an integer seed or None, got {type(rng).__name__}",
        fix="pass rng=np.random.default_rng(seed)",
    )


def _set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    name = type(rng.bit_generator).__name__
    if state.get("bit_generator") != name:
        raise CheckpointError(
            f"the saved bandit random state is for {state.get('bit_generator')!r}, but this "
            f"bandit's generator is {name!r}",
            fix="build the controller with np.random.default_rng(...) (PCG64), as when saved",
        )
    rng.bit_generator.state = copy.deepcopy(state)


class SlidingWindowUCB:
    """One sliding-window UCB bandit with epsilon-greedy exploration (Agent57, App. E).

    ``select()`` picks the arm for the next episode; ``update(arm, reward)`` records that
    episode's (undiscounted extrinsic) return. Only the last ``window`` updates count.
    """

    def __init__(
        self,
        num_arms: int,
        window: int,
        epsilon: float,
        beta: float = 1.0,
        *,
        rng: np.random.Generator | int | None = None,
    ):
        self.num_arms = _check_int(
            "num_arms", num_arms, 1, fix="use the number of arms of the mixture, e.g. 32"
        )
        self.window = _check_int(
            "window", window, 1, fix="use 160 for actors and 3600 for the evaluator (Agent57)"
        )
        if not (isinstance(epsilon, numbers.Real) and 0.0 <= epsilon <= 1.0):
            raise ParameterError(
                f"epsilon must be a number in [0, 1], got {epsilon!r}",
                fix="use 0.5 for actors and 0.01 for the evaluator (Agent57)",
            )
        if not (isinstance(beta, numbers.Real) and math.isfinite(beta) and beta >= 0.0):
            raise ParameterError(
                f"beta must be a finite number >= 0, got {beta!r}",
                fix="use beta=1.0 as in Agent57",
            )
        self.epsilon = float(epsilon)
        self.beta = float(beta)
        self._rng = _as_generator(rng)
        self._history: collections.deque[tuple[int, float]] = collections.deque(maxlen=self.window)
        self._num_selected = 0

    # ------------------------------------------------------------------ statistics

    def counts(self) -> np.ndarray:
        """``N(a, tau)``: how often each arm appears in the window, int64 of shape ``(N,)``."""
        arms = np.fromiter((a for a, _ in self._history), dtype=np.int64, count=len(self._history))
        return np.bincount(arms, minlength=self.num_arms)

    def means(self) -> np.ndarray:
        """``mu(a, tau)``: each arm's mean reward in the window; 0 for arms absent from it."""
        n = len(self._history)
        arms = np.fromiter((a for a, _ in self._history), dtype=np.int64, count=n)
        rewards = np.fromiter((r for _, r in self._history), dtype=np.float64, count=n)
        counts = np.bincount(arms, minlength=self.num_arms)
        sums = np.bincount(arms, weights=rewards, minlength=self.num_arms)
        return np.divide(sums, counts, out=np.zeros(self.num_arms), where=counts > 0)

    def ucb_scores(self) -> np.ndarray:
        """``mu(a, tau) + beta sqrt(1 / N(a, tau))``; ``+inf`` for arms absent from the window."""
        counts = self.counts()
        with np.errstate(divide="ignore"):
            bonus = self.beta * np.sqrt(1.0 / counts.astype(np.float64))
        return np.where(counts > 0, self.means() + bonus, np.inf)

    def greedy_arm(self) -> int:
        """The arm with the highest windowed mean among those in the window; 0 if it is empty.

        Arms absent from the window are skipped (their reported mean of 0 is no evidence);
        ties go to the lowest index.
        """
        counts = self.counts()
        if not counts.any():
            return 0
        return int(np.argmax(np.where(counts > 0, self.means(), -np.inf)))

    @property
    def num_selected(self) -> int:
        """How many times ``select`` has been called."""
        return self._num_selected

    # ------------------------------------------------------------------ acting

    def select(self) -> int:
        """The arm for the next episode (round-robin first, then epsilon-greedy UCB)."""
        k = self._num_selected
        self._num_selected += 1
        if k < self.num_arms:
            return k
        if self._rng.random() < self.epsilon:
            return int(self._rng.integers(self.num_arms))
        return int(np.argmax(self.ucb_scores()))

    def update(self, arm: int, reward: float) -> None:
        """Records that an episode played with ``arm`` earned ``reward`` (its extrinsic return)."""
        self._history.append((_check_arm(arm, self.num_arms), _check_return(reward)))

    # ------------------------------------------------------------------ checkpointing

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: the window, counters and the rng's state."""
        return {
            "num_arms": self.num_arms,
            "window": self.window,
            "epsilon": self.epsilon,
            "beta": self.beta,
            "num_selected": self._num_selected,
            "arms": np.array([a for a, _ in self._history], dtype=np.int64),
            "rewards": np.array([r for _, r in self._history], dtype=np.float64),
            "rng_state": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a ``state_dict``; the bandit must have the same ``num_arms`` and ``window``."""
        for key in ("num_arms", "window"):
            if int(state[key]) != getattr(self, key):
                raise CheckpointError(
                    f"the saved bandit has {key}={int(state[key])}, this one {getattr(self, key)}",
                    fix=f"build the meta-controller with the {key} used when it was saved",
                )
        arms = np.asarray(state["arms"], dtype=np.int64)
        rewards = np.asarray(state["rewards"], dtype=np.float64)
        if arms.shape != rewards.shape or arms.ndim != 1 or arms.size > self.window:
            raise CheckpointError(
                f"the saved bandit window is malformed (arms {arms.shape}, rewards "
                f"{rewards.shape}, window {self.window})",
                fix="restore from a checkpoint written by SlidingWindowUCB.state_dict",
            )
        if arms.size and (arms.min() < 0 or arms.max() >= self.num_arms):
            raise CheckpointError(
                f"the saved bandit window has arms outside [0, {self.num_arms})",
                fix="restore from a checkpoint written by SlidingWindowUCB.state_dict",
            )
        if float(state["epsilon"]) != self.epsilon or float(state["beta"]) != self.beta:
            logger.info(
                "restoring a bandit saved with epsilon=%s, beta=%s into one with epsilon=%s, "
                "beta=%s; keeping the current values",
                state["epsilon"],
                state["beta"],
                self.epsilon,
                self.beta,
            )
        _set_rng_state(self._rng, state["rng_state"])
        self._history = collections.deque(
            zip(arms.tolist(), rewards.tolist(), strict=True), maxlen=self.window
        )
        self._num_selected = int(state["num_selected"])


class MetaController:
    """The training bandits of a vectorised batch: one ``SlidingWindowUCB`` per environment
    (one per actor in Agent57), or with ``shared`` one fed by every environment's episodes.

    Each bandit gets its own random stream, spawned from ``rng``, so that environments do not
    share exploration draws and the batch is reproducible from one seed. A shared bandit sees
    ``num_envs`` times the episodes, so its window spans that many times less of the run.
    """

    def __init__(
        self,
        num_envs: int,
        num_arms: int,
        window: int = 160,
        epsilon: float = 0.5,
        beta: float = 1.0,
        *,
        rng: np.random.Generator | int | None = None,
        shared: bool = False,
    ):
        self.num_envs = _check_int(
            "num_envs", num_envs, 1, fix="use the number of environments in the batch"
        )
        self.shared = bool(shared)
        streams = _as_generator(rng).spawn(1 if self.shared else self.num_envs)
        self.bandits = [
            SlidingWindowUCB(num_arms, window, epsilon, beta, rng=stream) for stream in streams
        ]

    @property
    def num_arms(self) -> int:
        """The number of arms of every bandit."""
        return self.bandits[0].num_arms

    def _bandit(self, env_index: int) -> SlidingWindowUCB:
        env_index = _check_int(
            "env_index", env_index, 0, fix=f"pass an index in [0, {self.num_envs})"
        )
        if env_index >= self.num_envs:
            raise ParameterError(
                f"env_index must be < num_envs = {self.num_envs}, got {env_index}",
                fix=f"pass an index in [0, {self.num_envs})",
            )
        return self.bandits[0 if self.shared else env_index]

    def select(self, env_index: int) -> int:
        """The arm for the next episode of environment ``env_index``."""
        return self._bandit(env_index).select()

    def update(self, env_index: int, arm: int, episode_return: float) -> None:
        """Feeds the undiscounted extrinsic return of ``env_index``'s finished episode."""
        self._bandit(env_index).update(arm, episode_return)

    def greedy_arm(self) -> int | None:
        """The arm with the highest mean return over every bandit's window pooled; arms absent
        from all windows are skipped; None while the windows are empty; ties: lowest index."""
        counts = sum(b.counts() for b in self.bandits)
        if not np.any(counts):
            return None
        sums = sum(b.counts() * b.means() for b in self.bandits)
        return int(np.argmax(np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)))

    def state_dict(self) -> dict[str, Any]:
        """The state of every bandit, in environment order."""
        return {
            "num_envs": self.num_envs,
            "shared": self.shared,
            "bandits": [b.state_dict() for b in self.bandits],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a ``state_dict`` saved from a controller with the same ``num_envs``."""
        if int(state["num_envs"]) != self.num_envs:
            raise CheckpointError(
                f"the saved meta-controller has {int(state['num_envs'])} environments, this one "
                f"{self.num_envs}",
                fix="resume with the number of environments used when the checkpoint was saved",
            )
        saved_shared = bool(state.get("shared", False))
        if saved_shared != self.shared or len(state["bandits"]) != len(self.bandits):
            kinds = {True: "one shared bandit", False: "a bandit per environment"}
            raise CheckpointError(
                f"the saved meta-controller has {kinds[saved_shared]}, this one "
                f"{kinds[self.shared]}",
                fix=f"resume with actor.bandit_shared={str(saved_shared).lower()}, as saved",
            )
        for bandit, bandit_state in zip(self.bandits, state["bandits"], strict=True):
            bandit.load_state_dict(bandit_state)


class EvaluatorMetaController:
    """The evaluator's controller: one bandit, alternating bandit and greedy episodes.

    In ``"bandit"`` mode the arm comes from the sliding-window UCB (Agent57's evaluator values
    ``window = 3600``, ``epsilon = 0.01``) and the episode's return updates it. In ``"greedy"``
    mode the arm is the one with the highest windowed mean return so far (ties: lowest index;
    no data yet: arm 0) and the bandit is left untouched, so the greedy score measures the best
    arm without feeding its own choice back.

    The mode flips at every ``select``, starting with ``"bandit"``, and ``select`` returns the
    mode with the arm: the caller hands it back to ``update`` when that episode ends. So
    episodes started one after another alternate even when several evaluation environments
    run at once and finish in any order (flipping on ``update`` would let two concurrent
    bandit episodes flip the mode twice and greedy episodes would never start).
    """

    def __init__(
        self,
        num_arms: int,
        window: int = 3600,
        epsilon: float = 0.01,
        beta: float = 1.0,
        *,
        rng: np.random.Generator | int | None = None,
    ):
        self.bandit = SlidingWindowUCB(num_arms, window, epsilon, beta, rng=rng)
        self._mode = BANDIT
        self.last_greedy_return: float | None = None
        """The return of the latest greedy-mode episode (None before the first)."""
        self.greedy_episodes = 0
        """Greedy-mode episodes finished so far."""

    @property
    def mode(self) -> str:
        """``"bandit"`` or ``"greedy"``: how the next episode's arm is chosen."""
        return self._mode

    @property
    def num_arms(self) -> int:
        """The number of arms of the bandit."""
        return self.bandit.num_arms

    def select(self) -> tuple[int, str]:
        """(arm, mode) for the next evaluation episode; the mode then flips."""
        mode = self._mode
        arm = self.bandit.greedy_arm() if mode == GREEDY else self.bandit.select()
        self._mode = BANDIT if mode == GREEDY else GREEDY
        return arm, mode

    def update(self, arm: int, episode_return: float, mode: str) -> None:
        """Records a finished episode started in ``mode``: a bandit episode feeds the bandit,
        a greedy one sets ``last_greedy_return``."""
        if mode == BANDIT:
            self.bandit.update(arm, episode_return)
        elif mode == GREEDY:
            _check_arm(arm, self.num_arms)
            self.last_greedy_return = _check_return(episode_return)
            self.greedy_episodes += 1
        else:
            raise ParameterError(
                f"mode must be {BANDIT!r} or {GREEDY!r}, got {mode!r}",
                fix="pass the mode that select() returned with the episode's arm",
            )

    def state_dict(self) -> dict[str, Any]:
        """The bandit's state, the mode and the last greedy return."""
        return {
            "bandit": self.bandit.state_dict(),
            "mode": self._mode,
            "last_greedy_return": self.last_greedy_return,
            "greedy_episodes": self.greedy_episodes,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores a ``state_dict``."""
        if state["mode"] not in (BANDIT, GREEDY):
            raise CheckpointError(
                f"the saved evaluator mode must be {BANDIT!r} or {GREEDY!r}, got {state['mode']!r}",
                fix="restore from a checkpoint written by EvaluatorMetaController.state_dict",
            )
        self.bandit.load_state_dict(state["bandit"])
        self._mode = state["mode"]
        last = state["last_greedy_return"]
        self.last_greedy_return = None if last is None else float(last)
        self.greedy_episodes = int(state.get("greedy_episodes", 0))
