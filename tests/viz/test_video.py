"""`agentos run --video`: an mp4 per evaluation episode, with the episode's frame count."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import imageio_ffmpeg
import numpy as np
import pandas as pd

from agentos.viz.video import write_mp4


def _frames(path: Path) -> int:
    return imageio_ffmpeg.count_frames_and_secs(str(path))[0]


def test_each_counted_episode_is_an_mp4_with_its_frames(agent_dir, cli):
    assert cli("install", "cartpole", "--agent", agent_dir)[0] == 0
    trace = agent_dir / "trace.csv"
    code, out, err = cli(
        "run", "--episodes", "3", "--video", "--trace", trace,
        "-p", "environment.num_envs=2", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    [folder] = [p for p in (agent_dir / "videos").iterdir() if p.is_dir()]
    videos = sorted(folder.glob("*.mp4"))
    assert len(videos) == 3  # the 4th episode (copy 1's second, not counted) is not filmed
    steps = pd.read_csv(trace).groupby("episode").size().tolist()
    assert sorted(_frames(v) for v in videos) == sorted(steps)  # a frame before every action
    reader = imageio.get_reader(videos[0])
    assert reader.get_meta_data()["size"] == (600, 400)  # CartPole's own rendering
    reader.close()
    from agentos.tracking.store import get_run, list_runs

    run = list_runs(agent_dir)[0]
    assert folder.name == run.run_id[:8]
    artifacts = get_run(agent_dir, run.run_id).artifacts
    assert sum(a.startswith("videos/") for a in artifacts) == 3
    assert "traces/trace.csv" in artifacts


def test_async_copies_are_filmed_too(agent_dir, cli):
    assert cli("install", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "run", "--episodes", "2", "--video", "-p", "environment.num_envs=2",
        "-p", "environment.vectorization=async", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    assert len(list((agent_dir / "videos").glob("*/*.mp4"))) == 2


def test_an_environment_without_frames_is_exit_2(agent_dir, cli):
    code, out, err = cli("run", "--episodes", "1", "--video", "--agent", agent_dir)
    # the template's corridor is a plain gymnasium.Env without render(): no frames
    assert code == 2 and "Traceback" not in err
    assert "no rgb_array frame" in err and "Fix:" in err


def test_odd_frame_sizes_are_written(tmp_path: Path):
    write_mp4(tmp_path / "odd.mp4", [np.full((65, 95, 3), 200, np.uint8)] * 3, fps=10)
    reader = imageio.get_reader(tmp_path / "odd.mp4")
    assert reader.get_meta_data()["size"] == (96, 66)  # padded to even sizes
    reader.close()
    assert _frames(tmp_path / "odd.mp4") == 3


def test_learn_films_one_evaluation_episode_every_n_steps_and_plots_its_curve(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "600", "--video-every", "400", "-p", "loop.eval_every=200",
        "-p", "loop.eval_episodes=2", "-p", "loop.min_replay_size=100", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    from agentos.tracking.store import get_run, list_runs

    run = list_runs(agent_dir)[0]
    names = sorted(p.name for p in (agent_dir / "videos" / run.run_id[:8]).glob("*.mp4"))
    # evaluations at 200, 400, 600: filmed at 200 and 600, one episode each
    assert names == ["step-000000200-000.mp4", "step-000000600-000.mp4"]
    artifacts = get_run(agent_dir, run.run_id).artifacts
    assert "videos/step-000000200-000.mp4" in artifacts
    assert (agent_dir / "plots" / f"{run.run_id[:8]}.png").exists()
    assert f"plots/{run.run_id[:8]}.png" in artifacts


RENDERS = """
import gymnasium as gym
import numpy as np


class Grows(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, render_mode=None, kind: str = "grow"):
        self.render_mode, self.kind = render_mode, kind
        self.observation_space = gym.spaces.Box(0, 10, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 0.0, False, self.t >= 5, {}

    def render(self):
        if self.kind == "boom":
            raise RuntimeError("render boom")
        if self.kind == "grey":
            return np.full((10, 12), 0.5)  # 2-D floats in [0, 1]
        return np.zeros((16 + 2 * self.t, 16, 3), np.uint8)  # the size changes every step
"""


def test_frames_that_change_size_or_are_grey_are_filmed(agent_dir, cli):
    import textwrap

    from tests.local_env import use_local_environment

    use_local_environment(agent_dir, textwrap.dedent(RENDERS), "grows.py", "Grows", params={})
    for kind, size in (("grow", (16, 24)), ("grey", (12, 10))):
        code, out, err = cli(
            "run", "-e", "1", "--video", "-p", f"environment.kind={kind}", "--agent", agent_dir
        )
        assert code == 0, err
        video = max((agent_dir / "videos").glob("*/*.mp4"), key=lambda p: p.stat().st_mtime)
        reader = imageio.get_reader(video)
        assert reader.get_meta_data()["size"] == size  # padded to the largest frame
        reader.close()
    code, out, err = cli("run", "-e", "1", "--video", "-p", "environment.kind=boom",
                         "--agent", agent_dir)  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert "render() failed: RuntimeError: render boom" in err and "Fix:" in err


def test_a_frame_that_is_not_an_image_is_named(tmp_path: Path):
    import pytest

    from agentos.errors import AgentOSError

    with pytest.raises(AgentOSError, match=r"frame of shape \(2, 3, 7\)"):
        write_mp4(tmp_path / "bad.mp4", [np.zeros((2, 3, 7))], fps=10)
