"""Videos of evaluation episodes: the frames of each counted episode, an mp4 when it ends.

Frames come from the environment's ``render()`` in ``rgb_array`` mode (for Atari, the
full-colour 210x160 screen, not the agent's 84x84 grayscale view) and are encoded with the
ffmpeg binary that the ``imageio-ffmpeg`` wheel ships. Only the episodes an evaluation
counts are written; training episodes never are.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from agentos.errors import AgentOSError


class EpisodeFilm:
    """Frames of the evaluation episodes that count, an mp4 per episode when it ends.

    The loop calls ``start`` after the evaluation's reset and ``record`` after every vector
    step; frames come from ``env.render_copies(indices)``. Episodes that end after the
    evaluation has its quota (other copies still playing) are not written.
    """

    def __init__(
        self,
        folder: Path,
        fps: int = 30,
        prefix: str = "episode",
        limit: int | None = None,
        overlay: bool = False,
    ):
        self.folder = Path(folder)
        self.fps = int(fps)
        self.prefix = prefix
        self.limit = limit
        """Film at most this many episodes (copy 0's first ones); None: every counted one."""
        self.overlay = overlay
        """Draw the actor's ``step_info`` (Agent57: arm, intrinsic reward) beside each frame."""
        self.written: list[Path] = []
        self._frames: list[list[np.ndarray]] = []

    def start(self, env: Any, counting: np.ndarray) -> None:
        """The first frame of every counted copy's episode."""
        self._frames = [[] for _ in range(env.num_envs)]
        self._grab(env, np.flatnonzero(self._mask(counting)))

    def _mask(self, counting: np.ndarray) -> np.ndarray:
        if self.limit is None:
            return counting
        keep = np.zeros_like(counting)
        keep[0] = counting[0] and len(self.written) < self.limit
        return keep

    def _grab(self, env: Any, indices: np.ndarray) -> None:
        if len(indices):
            for i, frame in zip(indices, _frames_of(env, indices), strict=True):
                self._frames[i].append(frame)

    def record(
        self,
        counted: np.ndarray,
        counting: np.ndarray,
        env: Any,
        step: Any,
        info: dict[str, Any] | None = None,
    ) -> None:
        """After a vector step: write the counted episodes that ended, film the others.

        ``counted``: the copies whose episodes counted before this step; ``counting``: those
        whose episodes count now (a copy that just finished may have begun one that does).
        ``info``: the actor's ``step_info`` for the step just taken (drawn with ``overlay``).
        """
        done = step.terminated | step.truncated
        if self.overlay:
            self._annotate(self._mask(counted), step, info or {})
        for i in np.flatnonzero(done & self._mask(counted)):
            self.written.append(self._write(self._frames[i]))
        for i in np.flatnonzero(done):
            self._frames[i] = []
        self._grab(env, np.flatnonzero(self._mask(counting)))

    def _annotate(self, counted: np.ndarray, step: Any, info: dict[str, Any]) -> None:
        """Put a panel with this step's values beside the last frame of each counted copy."""
        n = len(self._frames)
        for i in np.flatnonzero(counted):
            if not self._frames[i]:
                continue
            lines = [f"t {len(self._frames[i]) - 1}", f"reward {float(step.reward[i]):.3g}"]
            for key, value in info.items():
                value = np.asarray(value)
                if value.ndim and value.shape[0] == n:
                    item = value[i]
                    text = (
                        f"{item.item():.4g}"
                        if item.size == 1
                        else " ".join(f"{v:.3g}" for v in item.reshape(-1)[:6])
                    )
                    lines.append(f"{key} {text}")
            self._frames[i][-1] = with_panel(self._frames[i][-1], lines)

    def _write(self, frames: list[np.ndarray]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.prefix}-{len(self.written):03d}.mp4"
        write_mp4(path, frames, self.fps)
        return path


def with_panel(frame: np.ndarray, lines: list[str], width: int = 200) -> np.ndarray:
    """``frame`` with a dark panel of text lines on its right (PIL's default font)."""
    from PIL import Image, ImageDraw

    height = max(frame.shape[0], 14 * len(lines) + 10)
    canvas = Image.new("RGB", (frame.shape[1] + width, height), (24, 24, 24))
    canvas.paste(Image.fromarray(frame[..., :3]), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for k, line in enumerate(lines):
        draw.text((frame.shape[1] + 8, 6 + 14 * k), line, fill=(235, 235, 235))
    return np.asarray(canvas)


def _frames_of(env: Any, indices: np.ndarray) -> list[np.ndarray]:
    render = getattr(env, "render_copies", None)
    if render is None:
        raise AgentOSError(
            f"the environment {type(env).__name__} cannot render frames, so it cannot be filmed",
            fix="film a gymnasium environment (gym:<id>, or a gymnasium.Env class whose "
            "__init__ takes render_mode and whose render() returns rgb_array frames)",
        )
    return [as_rgb(f) for f in render(indices)]


def as_rgb(frame: Any) -> np.ndarray:
    """A rendered frame as ``[H, W, 3]`` uint8: grey levels repeated, alpha dropped, floats
    in [0, 1] scaled; anything else is an error naming the shape it had."""
    array = np.asarray(frame)
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[-1] == 3 and array.size:
        return array  # already a frame (write_mp4 is given converted ones): no copy
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=-1)
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4) or 0 in array.shape:
        raise AgentOSError(
            f"render() returned a frame of shape {array.shape}, not an image [H, W, 3]",
            fix="return rgb_array frames from render(): uint8 arrays of shape [H, W, 3]",
        )
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    array = array[..., :3]
    if array.dtype.kind == "f" and float(np.nanmax(array, initial=0.0)) <= 1.0:
        array = array * 255.0
    return np.clip(np.nan_to_num(array), 0, 255).astype(np.uint8)


def write_mp4(path: Path, frames: list[np.ndarray], fps: int) -> None:
    """Encode ``frames`` as H.264 mp4. Frames whose size changes within the video are padded
    (black, bottom and right) to the largest, and odd sizes to even."""
    if not frames:
        return
    frames = [as_rgb(f) for f in frames]
    height = max(f.shape[0] for f in frames)
    width = max(f.shape[1] for f in frames)
    height, width = height + height % 2, width + width % 2  # H.264 wants even sizes
    with warnings.catch_warnings():
        # imageio starts ffmpeg with fork+exec, which JAX's at-fork hook warns about in vain
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        import imageio.v2 as imageio

        with imageio.get_writer(
            path, fps=fps, codec="libx264", macro_block_size=1, ffmpeg_log_level="error"
        ) as writer:
            for frame in frames:
                pad = ((0, height - frame.shape[0]), (0, width - frame.shape[1]), (0, 0))
                if any(pad[0] + pad[1]):
                    frame = np.pad(frame, pad)
                writer.append_data(frame)  # type: ignore[attr-defined]
