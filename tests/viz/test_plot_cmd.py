"""`agentos plot`: curves of tracked runs, grouped, with the data behind the PNG."""

from __future__ import annotations

import json

FAST = ["-p", "loop.min_replay_size=100", "-p", "loop.eval_every=200", "-p", "loop.eval_episodes=1"]


def test_two_seeds_make_one_curve_with_a_band_and_the_plot_is_attached(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    for seed in (0, 1):
        code, out, err = cli("learn", "--steps", "400", "--seed", seed, *FAST, "--agent", agent_dir)
        assert code == 0, err
    from agentos.tracking.store import get_run, list_runs

    # the test session shares one store, so name this test's two runs
    ids = [r.run_id for r in list_runs(agent_dir)[:2]]
    code, out, err = cli("plot", *ids, "--agent", agent_dir)
    assert code == 0, err
    png = agent_dir / "plots" / "eval_return_mean.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    data = json.loads(png.with_name(png.name + ".json").read_text())
    [c] = data["curves"]
    assert c["label"] == "CartPole-v1" and len(c["runs"]) == 2
    assert c["steps"] == [200, 400]
    assert all(lo <= m <= hi for lo, m, hi in zip(c["low"], c["mean"], c["high"], strict=True))
    assert "plots/eval_return_mean.png" in get_run(agent_dir, c["runs"][0]).artifacts

    code, out, err = cli(
        "plot", *ids, "--by", "seed", "-o", agent_dir / "s.png", "--agent", agent_dir
    )
    assert code == 0, err
    labels = [c["label"] for c in json.loads((agent_dir / "s.png.json").read_text())["curves"]]
    assert labels == ["seed 0", "seed 1"]

    code, out, err = cli("plot", *ids, "--by", "tag:nosuch", "--agent", agent_dir)
    assert code == 2 and "no run has a tag or param 'nosuch'" in err
    code, out, err = cli("plot", *ids, "--by", "tag:learner.learning_rate", "--agent", agent_dir)
    assert code == 0, err


def test_plot_errors_are_clear(tmp_path, cli):
    agent_dir = tmp_path / "empty"
    assert cli("init", agent_dir, "--name", "never_trained_plot_agent")[0] == 0
    code, out, err = cli("plot", "--agent", agent_dir)
    assert code == 2 and "no learn runs to plot" in err and "Fix:" in err
    code, out, err = cli("plot", "--by", "colour", "--agent", agent_dir)
    assert code == 2 and "--by" in err and "tag:NAME" in err


def test_agent57_arm_choices_over_time_and_intrinsic_vs_extrinsic(agent_dir, cli):
    from tiny_agents import TINY_AGENT57

    assert cli("install", "agent57", "permuted_chain", "--agent", agent_dir)[0] == 0
    overrides = [x for o in TINY_AGENT57 for x in ("-p", o)]
    code, out, err = cli("learn", "--steps", "400", *overrides, "--agent", agent_dir)
    assert code == 0, err
    from agentos.tracking.store import list_runs

    run_id = list_runs(agent_dir)[0].run_id
    arms = agent_dir / "arms.png"
    code, out, err = cli("plot", run_id, "-m", "train/arm_*", "-o", arms, "--agent", agent_dir)
    assert code == 0, err
    data = json.loads(arms.with_name("arms.png.json").read_text())
    assert [c["label"] for c in data["curves"]] == ["train/arm_0", "train/arm_1", "train/arm_2"]
    code, out, err = cli(
        "plot", run_id, "-m", "train/intrinsic_reward", "-m", "train/episode_return",
        "-o", agent_dir / "ie.png", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    labels = [c["label"] for c in json.loads((agent_dir / "ie.png.json").read_text())["curves"]]
    assert labels == ["train/episode_return", "train/intrinsic_reward"]
    # the same run's agent, traced: Agent57's arm and intrinsic reward per evaluation step
    trace = agent_dir / "trace.csv"
    code, out, err = cli(
        "run", "--episodes", "2", "--trace", trace, *overrides, "--agent", agent_dir
    )  # fmt: skip
    assert code == 0, err
    import numpy as np
    import pandas as pd

    table = pd.read_csv(trace)
    assert {"arm", "epsilon", "q_0", "rnd_alpha", "intrinsic_reward"} <= set(table.columns)
    np.testing.assert_allclose(
        table.intrinsic_reward, table.episodic_reward * table.rnd_alpha, rtol=1e-5
    )
    assert (table.rnd_alpha >= 1.0).all() and table.groupby("episode").arm.nunique().max() == 1


def test_plotting_a_run_that_logged_nothing_says_so(agent_dir, cli, failed_run):
    code, out, err = cli("plot", failed_run, "--agent", agent_dir)
    assert code == 2 and "logged no metrics" in err and "FAILED" in err
