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
