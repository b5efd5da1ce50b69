"""Which arm each evaluation episode of the Agent57 actor plays, and its returns by mode.

Three ways to pick, from the actor's parameters:
* ``evaluation_arm: J`` plays arm J in every episode (``"fixed"``; 0 is NGU's protocol);
* ``evaluation_chooser: training`` plays the training meta-controller's greedy arm, the best
  mean return in its window (``"training"``). Training episodes are many and recent, so this
  follows the arm that is best now. Where that window is empty (before the first training
  episode ends, in a Ray evaluator process, or in ``agentos run`` of a checkpoint made with
  another number of copies) the evaluator below picks instead;
* otherwise Agent57's evaluator, ``EvaluatorMetaController``, alternates its own bandit
  (``"bandit"``) with its greedy arm (``"greedy"``). Only these episodes feed it.
"""

from __future__ import annotations

from agentos.agents.agent57.meta_controller import (
    BANDIT,
    GREEDY,
    EvaluatorMetaController,
    MetaController,
)

FIXED = "fixed"
"""The mode of ``evaluation_arm``: the evaluator's bandit is left untouched."""
TRAINING = "training"
"""The mode of ``evaluation_chooser: training``: the evaluator's bandit is left untouched."""
CHOOSERS = ("evaluator", TRAINING)
"""The values of the actor's ``evaluation_chooser``."""


class EvaluationArms:
    """Picks the arm of every evaluation episode and records its return under its mode."""

    def __init__(
        self,
        evaluator: EvaluatorMetaController,
        meta: MetaController,
        fixed_arm: int | None,
        chooser: str,
    ):
        self.evaluator, self.meta = evaluator, meta
        self.fixed_arm, self.chooser = fixed_arm, chooser
        self._modes: dict[int, str] = {}  # evaluation env -> mode its episode started in
        self._played: dict[str, list[tuple[int, float]]] = {}  # mode -> (arm, return)

    def choose(self, env_index: int) -> int:
        """The arm of the episode that ``env_index`` starts now."""
        best = self.meta.greedy_arm() if self.chooser == TRAINING else None
        if self.fixed_arm is not None:
            arm, mode = self.fixed_arm, FIXED
        elif best is not None:
            arm, mode = best, TRAINING
        else:
            arm, mode = self.evaluator.select()
        self._modes[env_index] = mode
        return arm

    def finish(self, env_index: int, arm: int, episode_return: float) -> None:
        """Records the return of ``env_index``'s finished episode (the evaluator's own only)."""
        if env_index not in self._modes:
            return
        mode = self._modes.pop(env_index)
        if mode in (BANDIT, GREEDY):
            self.evaluator.update(arm, episode_return, mode)
        self._played.setdefault(mode, []).append((arm, episode_return))

    def pop_stats(self) -> dict[str, float]:
        """``MODE_return_mean`` / ``MODE_episodes`` per mode since the last call, and the arm
        the greedy or training mode played last (``greedy_arm``, ``training_arm``)."""
        stats: dict[str, float] = {}
        for mode, played in sorted(self._played.items()):
            stats[f"{mode}_return_mean"] = sum(r for _, r in played) / len(played)
            stats[f"{mode}_episodes"] = float(len(played))
            if mode in (GREEDY, TRAINING):
                stats[f"{mode}_arm"] = float(played[-1][0])
        self._played = {}
        return stats
