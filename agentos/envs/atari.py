"""Atari out of the box: the R2D2/Agent57 preprocessing and the ``atari`` component.

R2D2 (Kapturowski et al. 2019, Table 2) and Agent57 (Badia et al. 2020, App. G) play from
84x84 grayscale frames, an action repeated for 4 frames with the last two max-pooled, up to
30 no-op actions at the start of an episode, and episodes cut at 30 minutes of play
(108,000 frames), without sticky actions. gymnasium's ``AtariPreprocessing`` does exactly
this on an ALE environment made with ``frameskip=1``; ALE's ``max_num_frames_per_episode``
gives the time limit. Frames stay uint8 (``scale_obs=False``): replay and checkpoints hold
one byte a pixel and the networks scale by 1/255.

Every default can be changed through ``environment.params.kwargs`` (ALE's arguments, e.g.
``repeat_action_probability: 0.25`` for sticky actions), or turned off with
``preprocessing: none`` and replaced by your own ``wrappers:``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from agentos.envs.gym_env import GymEnvironment, GymParams
from agentos.errors import AgentOSError, ParameterError

ALE_DEFAULTS = {
    "frameskip": 1,
    "repeat_action_probability": 0.0,
    "max_num_frames_per_episode": 108_000,
}
"""ALE arguments under the papers' preprocessing (frame skipping is the wrapper's)."""
PREPROCESSING = {
    "noop_max": 30,
    "frame_skip": 4,
    "screen_size": 84,
    "terminal_on_life_loss": False,
    "grayscale_obs": True,
    "grayscale_newaxis": True,
    "scale_obs": False,
}
"""gymnasium.wrappers.AtariPreprocessing arguments: frames of [84, 84, 1] uint8."""


def base_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """ALE kwargs for the preprocessed game: the user's own values win."""
    return {**ALE_DEFAULTS, **kwargs}


def preprocess(env: Any) -> Any:
    """``env`` (an ALE game made with ``base_kwargs``) under the papers' preprocessing."""
    from gymnasium.wrappers import AtariPreprocessing

    frame_skip = PREPROCESSING["frame_skip"] if env.unwrapped._frameskip == 1 else 1
    return AtariPreprocessing(env, **{**PREPROCESSING, "frame_skip": frame_skip})  # type: ignore[arg-type]


@dataclass(frozen=True)
class AtariParams(GymParams):
    """Parameters of an Atari game (ALE v5) with the papers' preprocessing."""

    env_id: str = ""
    """A full ALE id (e.g. ALE/Pong-v5); empty: built from ``game``."""
    must_be_written: ClassVar[dict[str, str]] = {}
    game: str = "Pong"
    """The game's name as ALE spells it in ids: Pong, Breakout, MontezumaRevenge, ..."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.env_id:
            return
        games = ale_games()
        if not games or self.game in games:
            return
        spelled = {g.lower(): g for g in games}
        if self.game.lower() in spelled:  # 'breakout' means Breakout
            object.__setattr__(self, "game", spelled[self.game.lower()])
            return
        import difflib

        close = difflib.get_close_matches(self.game, games, n=3)
        raise ParameterError(
            f"unknown Atari game '{self.game}'",
            where="environment.game",
            fix=(f"did you mean {', '.join(close)}? " if close else "")
            + "use a game as ALE spells it: Pong, Breakout, MontezumaRevenge, ...",
        )

    def gym_id(self) -> str:
        """``env_id``, or ``ALE/<game>-v5``."""
        return self.env_id or f"ALE/{self.game}-v5"


@functools.lru_cache(maxsize=1)
def ale_games() -> tuple[str, ...]:
    """The games ALE registers as ``ALE/<game>-v5`` (empty when ale_py is not installed)."""
    import gymnasium as gym

    from agentos.envs.make import register_plugins

    try:
        register_plugins("ALE/Pong-v5")
    except AgentOSError:
        return ()
    return tuple(
        sorted(i[4:-3] for i in gym.registry if i.startswith("ALE/") and i.endswith("-v5"))
    )


class AtariEnvironment(GymEnvironment):
    """An Atari game by name (``-p environment.game=Breakout``), preprocessed as in R2D2."""

    Params = AtariParams
