"""Videos of episodes: a wrapper that keeps each copy's frames and writes an mp4 per episode.

Frames come from the environment's ``render()`` in ``rgb_array`` mode (for Atari, the
full-colour 210x160 screen, not the agent's 84x84 grayscale view) and are encoded with the
ffmpeg binary that the ``imageio-ffmpeg`` wheel ships. An episode is written when it ends,
so episodes cut short (an evaluation that has enough) leave no partial file.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from agentos.errors import AgentOSError

_COPY_IDS = itertools.count()


class RecordEpisodes(gymnasium.Wrapper):
    """Write every finished episode of this copy to ``folder`` as an mp4."""

    def __init__(self, env: Any, folder: str, fps: int = 30, prefix: str = "episode"):
        super().__init__(env)
        if getattr(env, "render_mode", None) != "rgb_array":
            raise AgentOSError(
                f"{env.unwrapped.__class__.__name__} does not render rgb_array frames "
                f"(render_mode={getattr(env, 'render_mode', None)!r}), so it cannot be filmed",
                fix="use an environment that supports render_mode='rgb_array' (for a class of "
                "your own: accept render_mode in __init__ and return frames from render())",
            )
        self.folder = Path(folder)
        self.fps = int(fps)
        self.prefix = prefix
        self._copy = f"{os.getpid()}-{next(_COPY_IDS)}"
        self._frames: list[np.ndarray] = []
        self._episode = 0
        self.written: list[Path] = []

    def _frame(self) -> None:
        frame = self.env.render()
        if frame is not None:
            self._frames.append(np.asarray(frame, np.uint8))

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._frames = []
        self._frame()
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frame()
        if terminated or truncated:
            self.written.append(self._write())
        return obs, reward, terminated, truncated, info

    def _write(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.prefix}-{self._copy}-{self._episode:03d}.mp4"
        write_mp4(path, self._frames, self.fps)
        self._episode += 1
        self._frames = []
        return path


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Encode ``frames`` ([H, W, 3] uint8) as H.264 mp4 (odd sizes padded to even)."""
    import imageio.v2 as imageio

    if not frames:
        return
    height, width = frames[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))  # H.264 wants even sizes
    with imageio.get_writer(
        path, fps=fps, codec="libx264", macro_block_size=1, ffmpeg_log_level="error"
    ) as writer:
        for frame in frames:
            writer.append_data(np.pad(frame, pad, mode="edge") if any(pad[0] + pad[1]) else frame)
