"""A plain gymnasium.Env class in a local file is an environment component."""

from __future__ import annotations

import textwrap

from tests.local_env import use_local_environment

GOOD = """
import gymnasium as gym
import numpy as np


class Walk(gym.Env):
    def __init__(self, goal: int = 3, noise: float = 0.0):
        self.goal, self.noise = goal, noise
        self.observation_space = gym.spaces.Discrete(goal + 1)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = 0
        return self.pos, {}

    def step(self, action):
        self.pos = min(self.goal, max(0, self.pos + (1 if action == 1 else -1)))
        done = self.pos == self.goal
        return self.pos, float(done), done, False, {}
"""

BROKEN = """
import gymnasium as gym
import numpy as np


class Walk(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(0, 1, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32)  # no info dict

    def step(self, action):
        return np.zeros(2, np.float32), 0.0, True, False, {}
"""


FAILS_LATER = GOOD.replace(
    "    def step(self, action):\n",
    "    def step(self, action):\n"
    "        self.steps = getattr(self, 'steps', 0) + 1\n"
    "        if self.steps > 40:\n"
    "            raise ValueError('boom')\n",
)

ENDLESS = GOOD.replace("done = self.pos == self.goal", "done = False")


def _use(agent_dir, source: str, params: dict | None = None) -> None:
    use_local_environment(
        agent_dir, textwrap.dedent(source), "walk.py", "Walk", params=params or {}
    )


def test_constructor_arguments_become_parameters(agent_dir, cli):
    _use(agent_dir, GOOD, {"goal": 2, "num_envs": 2})
    code, out, err = cli("show", "-p", "environment.noise=0.5", "--agent", agent_dir)
    assert code == 0, err
    assert "goal = 2" in out and "noise = 0.5" in out and "num_envs = 2" in out
    assert "Box(-inf, inf, (3,), float32)" in out  # Discrete(3) observations, one-hot
    code, out, err = cli("run", "--episodes", "2", "--agent", agent_dir)
    assert code == 0, err


def test_learns_with_dqn_from_a_local_class(agent_dir, cli):
    _use(agent_dir, GOOD, {"goal": 3, "max_episode_steps": 30})
    assert cli("install", "dqn", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "300", "-p", "loop.min_replay_size=50", "-p", "loop.eval_every=0",
        "-p", "loop.eval_episodes=2", "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err


def test_a_failing_env_check_is_a_clear_error(agent_dir, cli):
    _use(agent_dir, BROKEN)
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "Walk fails gymnasium's env checker" in err and "components.environment" in err
    assert "check_env: false" in err


def test_a_bad_parameter_names_the_class(agent_dir, cli):
    _use(agent_dir, GOOD, {"goal": "far"})
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "environment.params.goal" in err and "expected int" in err
    _use(agent_dir, GOOD, {"speed": 3})
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 2 and "unknown parameter 'speed'" in err and "goal" in err


def test_init_writes_a_plain_gymnasium_env(agent_dir):
    text = (agent_dir / "corridor.py").read_text()
    assert "class Corridor(gym.Env)" in text


def test_what_an_env_prints_on_reset_stays_out_of_stdout(agent_dir, cli):
    # BabyAI levels print "Sampling rejected: ..." when they redraw a layout; that text
    # would mix with the CLI's own output (and break anything that parses it).
    noisy = GOOD.replace(
        "        self.pos = 0\n",
        "        self.pos = 0\n        print('Sampling rejected: noisy reset')\n",
    )
    _use(agent_dir, noisy, {"goal": 2, "max_episode_steps": 10})
    code, out, err = cli("run", "--episodes", "3", "--agent", agent_dir)
    assert code == 0, err
    assert "Sampling rejected" not in out


def test_an_error_in_step_is_one_message_naming_the_line(agent_dir, cli):
    _use(agent_dir, FAILS_LATER, {"goal": 3, "max_episode_steps": 10})
    code, out, err = cli("run", "--episodes", "20", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "Walk failed in step(): ValueError: boom at " in err and "walk.py:" in err
    assert "--debug" in err


def test_an_environment_without_a_time_limit_ends_its_episodes(agent_dir, cli, caplog, monkeypatch):
    from agentos.envs import make

    monkeypatch.setattr(make, "_warned_unlimited", set())  # other tests' Walk warned already
    _use(agent_dir, ENDLESS, {"goal": 3})
    with caplog.at_level("WARNING", logger="agentos.envs.make"):
        code, out, err = cli("run", "--episodes", "1", "--agent", agent_dir)
    assert code == 0, err
    notes = [r.getMessage() for r in caplog.records if "has no time limit" in r.getMessage()]
    assert len(notes) == 1 and "environment.max_episode_steps" in notes[0]
    assert "self.max_steps = N" in notes[0]


OWN_LIMIT = (
    ENDLESS.replace("self.goal, self.noise = goal, noise", "self.goal, self.max_steps = goal, 7")
    .replace("        self.pos = 0\n", "        self.pos, self.t = 0, 0\n")
    .replace("done = False", "done = False\n        self.t += 1")
    .replace("float(done), done, False, {}", "float(done), done, self.t >= self.max_steps, {}")
)


def test_a_class_that_says_its_own_max_steps_keeps_its_limit(agent_dir, cli, caplog, monkeypatch):
    from agentos.envs import make

    monkeypatch.setattr(make, "_warned_unlimited", set())
    _use(agent_dir, OWN_LIMIT, {"goal": 3})
    with caplog.at_level("WARNING", logger="agentos.envs.make"):
        code, out, err = cli(
            "run", "-e", "2", "--trace", str(agent_dir / "t.csv"), "--agent", agent_dir
        )
    assert code == 0, err
    assert not [r for r in caplog.records if "has no time limit" in r.getMessage()]
    steps = (agent_dir / "t.csv").read_text().splitlines()[1:]
    assert len(steps) == 14 and steps[-1].split(",")[6] == "True"  # two 7-step episodes


def test_filming_an_environment_without_frames_fails_before_training(agent_dir, cli):
    _use(agent_dir, GOOD, {"goal": 3, "max_episode_steps": 30})
    assert cli("install", "dqn", "--agent", agent_dir)[0] == 0
    code, out, err = cli("learn", "--steps", "300", "--video-every", "100", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "(Walk) returned no rgb_array frame" in err and "--video-every" in err
    assert not (agent_dir / ".agentos" / "checkpoints").exists()


NAN_LATER = """
import gymnasium as gym
import numpy as np


class Walk(gym.Env):
    def __init__(self, bad_reward: bool = False):
        self.bad_reward = bad_reward
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        broken = self.t > 3
        obs = np.array([self.t, np.nan if broken and not self.bad_reward else 0.0], np.float32)
        reward = float("inf") if broken and self.bad_reward else 0.0
        return obs, reward, False, self.t >= 10, {}
"""


def test_a_nan_observation_names_the_environment(agent_dir, cli):
    # Past the env checker's few steps, a NaN would otherwise surface as "loss = nan"
    # far from the environment that produced it.
    _use(agent_dir, NAN_LATER)
    code, out, err = cli("run", "--episodes", "2", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "Walk returned a NaN or infinite observation from step() (copy 0)" in err
    assert "check_finite: false" in err
    code, out, err = cli("run", "--episodes", "2", "-p", "environment.bad_reward=true",
                         "--agent", agent_dir)  # fmt: skip
    assert code == 2 and "Walk's step() returned the reward inf" in err
    off = ("-p", "environment.check_finite=false", "--agent", agent_dir)
    assert cli("run", "--episodes", "2", *off)[0] == 0


NO_SPACES = """
import gymnasium as gym
import numpy as np


class NoSpaces(gym.Env):
    def reset(self, *, seed=None, options=None):
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, True, False, {}
"""


def test_a_class_without_spaces_is_named_even_without_the_env_checker(agent_dir, cli):
    """With check_env: false this was an AttributeError traceback."""
    use_local_environment(agent_dir, NO_SPACES, "nospaces.py", "NoSpaces",
                          params={"check_env": False})  # fmt: skip
    code, out, err = cli("run", "--episodes", "1", "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "NoSpaces has no observation_space" in err
    assert "set self.observation_space in NoSpaces.__init__" in err
