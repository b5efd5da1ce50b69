"""Episode videos: an mp4 per finished episode, with the episode's frame count."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pytest

from agentos.errors import AgentOSError
from agentos.viz.video import RecordEpisodes


def test_each_finished_episode_is_an_mp4_with_its_frames(tmp_path: Path):
    env = RecordEpisodes(gym.make("CartPole-v1", render_mode="rgb_array"), str(tmp_path))
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        _, _, term, trunc, _ = env.step(0)  # always left: a short episode
        if term or trunc:
            break
    env.reset()
    env.step(0)  # an episode in progress leaves no file
    env.close()
    [path] = env.written
    assert list(tmp_path.glob("*.mp4")) == [path]
    reader = imageio.get_reader(path)
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == steps + 1  # the reset frame and one per step
    assert frames[0].shape[2] == 3 and frames[0].mean() > 0


def test_an_environment_without_rgb_frames_is_a_clear_error(tmp_path: Path):
    with pytest.raises(AgentOSError, match="does not render rgb_array") as e:
        RecordEpisodes(gym.make("CartPole-v1"), str(tmp_path))
    assert "Fix:" in str(e.value)


def test_odd_frame_sizes_are_written(tmp_path: Path):
    from agentos.viz.video import write_mp4

    write_mp4(tmp_path / "odd.mp4", [np.full((65, 95, 3), 200, np.uint8)] * 3, fps=10)
    reader = imageio.get_reader(tmp_path / "odd.mp4")
    assert reader.get_meta_data()["size"] == (96, 66)  # padded to even sizes
    reader.close()
    assert imageio_ffmpeg.count_frames_and_secs(str(tmp_path / "odd.mp4"))[0] == 3
