"""A user's gymnasium.Env class that passes gymnasium's env checker (which tries the first
steps only) and breaks the API later: each broken reset/step result is one exit-2 message
naming the class, what it returned and what it should (third sweep of bad inputs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.local_env import use_local_environment

SOURCE = """
import gymnasium as gym
import numpy as np


class Later(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0
        self.total = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        self.total += 1
        obs, reward, terminated, info = np.zeros(2, np.float32), 1.0, self.t >= 5, {}
        if self.total > 12:
            BREAK
        return obs, reward, terminated, False, info
"""


def use(agent: Path, breakage: str, **params) -> None:
    use_local_environment(
        agent,
        SOURCE.replace("BREAK", breakage),
        "later.py",
        "Later",
        params={"max_episode_steps": 20, **params},
    )


def assert_clean_exit_2(code: int, out: str, err: str, fragments: tuple[str, ...]) -> None:
    """One message (the only "Error:" line) with a Fix line, exit 2, no traceback."""
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err, err
    assert ("\n" + err).count("\nError: ") == 1 and "\nFix: " in err, err
    flat = " ".join(err.split())
    for fragment in fragments:
        assert fragment in flat, (fragment, err)


BROKEN = [
    # a later observation of another shape: "Output array is the wrong shape" at numpy's line
    (
        "return np.zeros(3, np.float32), reward, terminated, False, info",
        ("Later's step() returned an observation of shape (3,)", "has shape (2,)"),
    ),
    ("return None, reward, terminated, False, info", ("step() returned the observation None",)),
    # old gym's 4-tuple: "not enough values to unpack" at gymnasium's line
    (
        "return obs, reward, terminated, info",
        ("step() returned 4 values", "terminated, truncated"),
    ),
    # info None: "'NoneType' object has no attribute 'items'" at gymnasium's vector code
    ("return obs, reward, terminated, False, None", ("returned the info None, not a dict",)),
    # NaN/None rewards: a NaN mean return (run) or "learning diverged" (learn)
    ("reward = float('nan')", ("step() returned the reward nan", "finite rewards")),
    ("reward = None", ("step() returned the reward None", "a number")),
    # beyond float32: an overflow warning, then an infinite return
    ("reward = 1e300", ("the reward 1e+300 (beyond float32)",)),
]


IDS = ["obs-shape", "obs-none", "four-values", "info-none", "nan", "none", "huge"]


@pytest.mark.parametrize("breakage, fragments", BROKEN, ids=IDS)
def test_a_later_broken_step_is_one_message(agent_dir: Path, cli, breakage, fragments) -> None:
    use(agent_dir, breakage)
    assert_clean_exit_2(*cli("run", "--episodes", "10", "--agent", agent_dir), fragments)


def test_a_later_broken_reset_is_one_message(agent_dir: Path, cli) -> None:
    use(agent_dir, "self.reset = lambda **kw: np.zeros(2, np.float32)")
    assert_clean_exit_2(
        *cli("run", "--episodes", "10", "--agent", agent_dir),
        ("Later's reset() returned a ndarray, not (observation, info)",),
    )


def test_a_well_behaved_class_still_runs(agent_dir: Path, cli) -> None:
    use(agent_dir, "reward = np.float32(2.0)")
    code, out, err = cli("run", "--episodes", "8", "--agent", agent_dir)
    assert code == 0, err
    assert "mean return" in out


def test_an_error_in_an_async_copy_names_the_line_not_gymnasium(agent_dir: Path, cli) -> None:
    """gymnasium re-raises a worker's error without its traceback (the message named
    async_vector_env.py) after printing the worker's traceback as warnings."""
    use(agent_dir, "raise ValueError('boom')", vectorization="async", num_envs=2)
    code, out, err = cli("run", "--episodes", "10", "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, ("Later failed in step(): ValueError: boom at",))
    assert "later.py:" in err and "async_vector_env" not in err
    assert "Worker-" not in err


def test_a_broken_result_in_an_async_copy_is_one_message(agent_dir: Path, cli) -> None:
    """An AgentOSError raised in a worker came back as a TypeError about its message."""
    use(
        agent_dir,
        "return np.zeros(3, np.float32), reward, terminated, False, info",
        vectorization="async",
        num_envs=2,
    )
    assert_clean_exit_2(
        *cli("run", "--episodes", "10", "--agent", agent_dir),
        ("Later's step() returned an observation of shape (3,)",),
    )


def test_a_reset_without_gymnasium_keywords_says_how_to_define_it(agent_dir: Path, cli) -> None:
    """With the checker off, "TypeError: ... unexpected keyword argument 'options'" named a
    line of gymnasium's (or agentos') code."""
    use(agent_dir, "pass", check_env=False)
    path = agent_dir / "later.py"
    path.write_text(path.read_text().replace("seed=None, options=None", "seed=None"))
    assert_clean_exit_2(
        *cli("run", "--episodes", "1", "--agent", agent_dir),
        ("Later's reset() does not take gymnasium's keyword arguments", "options=None"),
    )


def test_r2d2_learns_from_episodes_shorter_than_its_burn_in(agent_dir: Path, cli) -> None:
    """Every episode (5 steps) ends within R2D2's burn-in (8). No sequence used to be stored,
    so the learner never took an update; an episode's first sequence now burns in over
    padding and its trace starts at x_0 (agentos.agents.r2d2.adder)."""
    use(agent_dir, "pass")
    assert cli("install", "r2d2", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "400", "-p", "loop.min_replay_size=50", "-p", "loop.eval_every=0",
        "-p", "loop.eval_episodes=1", "-p", "environment.num_envs=1", "-p", "network.lstm_size=4",
        "-p", "network.hidden_sizes=[4]", "-p", "network.head_hidden=4", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    updates = re.search(r"([\d,]+) learner\s+updates", " ".join(out.split()))
    assert updates is not None, out
    # 80 episodes, one sequence each; a batch of 32 from the 32nd: (400 - 160) * 4 / 32 = 30
    assert int(updates.group(1).replace(",", "")) >= 20, out


def test_a_close_that_raises_after_the_work_is_a_warning(agent_dir: Path, cli, caplog) -> None:
    """close() raising at the end of `run` was a traceback and exit 1 after the returns."""
    use(agent_dir, "pass")
    path = agent_dir / "later.py"
    path.write_text(
        path.read_text() + "\n    def close(self):\n        raise RuntimeError('socket gone')\n"
    )
    code, out, err = cli("run", "--episodes", "2", "--agent", agent_dir)
    assert code == 0, err
    assert "Traceback" not in out + err and "mean return" in out
    assert "Later's close() failed (ignored)" in caplog.text and "socket gone" in caplog.text


def test_observations_of_no_values_are_refused(agent_dir: Path, cli) -> None:
    """A Box of shape (0,): ZeroDivisionError in the network's initialiser, exit 1."""
    use(agent_dir, "pass")
    path = agent_dir / "later.py"
    path.write_text(path.read_text().replace("(2,)", "(0,)").replace("np.zeros(2,", "np.zeros(0,"))
    assert cli("install", "dqn", "--agent", agent_dir)[0] == 0
    assert_clean_exit_2(
        *cli("run", "--episodes", "1", "--agent", agent_dir),
        ("Later's observations hold no values", "(0,)"),
    )


def test_numpy_bools_pass_the_env_checker(agent_dir: Path, cli) -> None:
    """gymnasium's checker asserts `truncated is False`, so np.False_ (valid) was refused as
    "Environment truncates after 1 step"."""
    source = SOURCE.replace(
        "return obs, reward, terminated, False, info",
        "return obs, reward, np.bool_(terminated), np.bool_(self.t >= 50), info",
    )
    use_local_environment(agent_dir, source.replace("BREAK", "pass"), "later.py", "Later")
    code, out, err = cli("run", "--episodes", "3", "--agent", agent_dir)
    assert code == 0, err
    assert "mean return 5.00" in out
    really = source.replace("BREAK", "pass").replace("self.t >= 50", "True")
    use_local_environment(agent_dir, really, "later.py", "Later")
    code, out, err = cli("run", "--episodes", "3", "--agent", agent_dir)
    assert code == 2 and "truncates after 1 step" in err
