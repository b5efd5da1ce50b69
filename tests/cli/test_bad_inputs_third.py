"""Bad inputs of a third sweep (huge numbers, a user's own Minari datasets, a module of the
agent folder given as a gymnasium package): each exits 2 with one message naming the file,
key or option and a Fix line, no traceback (see test_bad_inputs.py for the first battery;
broken environment classes are in tests/envs/test_unusual_envs.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bad_input_checks import DQN, Case, args, assert_clean_exit_2

HUGE = "1" + "0" * 400


def saved_as(agent: Path, name: str) -> list[str]:
    """The spec renamed to ``name``; `agentos show` of the folder."""
    (agent / "agentos.yaml").rename(agent / name)
    return ["show", "--agent", str(agent)]


CASES = [
    # a float parameter given an integer beyond float: OverflowError traceback, exit 1
    Case(
        "float-parameter-beyond-float",
        args("show", "-p", f"learner.learning_rate={HUGE}"),
        ("-p learner.learning_rate", "(a number of 401 digits) is too large"),
        DQN,
    ),
    # an int beyond 64 bits reached JAX: a TypeError traceback, exit 1
    Case(
        "layer-width-beyond-64-bits",
        args("run", "-e", "1", "-p", "network.hidden_sizes=[10000000000000000000000]"),
        ("-p network.hidden_sizes[0]", "too large for an integer parameter"),
        DQN,
    ),
    Case(
        "loop-value-beyond-64-bits",
        args("show", "-p", "loop.eval_every=1e300"),
        ("loop.eval_every", "(a number of 301 digits)", "2**63 - 1"),
    ),
    # samples_per_insert 1e300: a ValueError traceback from numpy once the updates were due
    Case(
        "samples-per-insert-beyond-any-use",
        args("learn", "--steps", "60", "-p", "loop.samples_per_insert=1e300"),
        ("loop.samples_per_insert", "must be <= 1e+06", "DQN's 32"),
        DQN,
    ),
    Case(
        "checkpoint-overhead-beyond-the-wall-time",
        args("show", "-p", "loop.checkpoint_overhead=2"),
        ("loop.checkpoint_overhead", "must be <= 1", "0.05 is 5%"),
    ),
    # a spec saved as agentos.yml, or --agent naming a file: "Fix: run `agentos init .`"
    Case(
        "spec-saved-as-yml",
        lambda agent: saved_as(agent, "agentos.yml"),
        ("no agent spec found", "rename agentos.yml to agentos.yaml", "--agent"),
    ),
    Case(
        "agent-option-names-a-file",
        lambda agent: ["show", "--agent", str(agent / "corridor.py")],
        ("corridor.py is a file: pass the agent folder",),
    ),
    # kwargs the environment rejects were written to the spec: every later command failed
    Case(
        "install-gym-kwargs-it-rejects",
        args("install", "gym:FrozenLake-v1", "-p", "environment.kwargs={map_name: 9x9}"),
        ("-p environment.kwargs", "KeyError: '9x9'", "nothing was installed"),
    ),
    # `gym:PKG:ID` where PKG is a file of the agent folder: "Fix: pip install myreg"
    Case(
        "own-module-as-gym-package",
        args("install", "gym:myreg:MyReg-v0"),
        ("needs the package myreg", "PYTHONPATH", "source: local, module: myreg.py"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    if case.install:
        code, _, err = cli(*case.install, "--agent", agent_dir)
        assert code == 0, err
    before = {p.name: p.read_bytes() for p in agent_dir.glob("agentos.y*ml")}
    assert_clean_exit_2(*cli(*case.setup(agent_dir)), case.fragments)
    after = {p.name: p.read_bytes() for p in agent_dir.glob("agentos.y*ml")}
    assert list(after.values()) == list(before.values()), "the spec was changed"


def test_a_gym_package_whose_own_import_fails_names_that_one(
    agent_dir: Path, cli, monkeypatch
) -> None:
    (agent_dir / "mywrap_envs.py").write_text("import agentos_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(agent_dir))
    code, out, err = cli("install", "gym:mywrap_envs:X-v0", "--agent", agent_dir)
    assert_clean_exit_2(
        code, out, err, ("pip install agentos_no_such_dependency (which mywrap_envs imports)",)
    )
    sys.modules.pop("mywrap_envs", None)


def test_runs_with_a_limit_beyond_sqlite(agent_dir: Path, cli) -> None:
    """`--limit` went to SQLite as is: OverflowError traceback, exit 1."""
    assert cli("run", "-e", "1", "--agent", agent_dir)[0] == 0
    code, out, err = cli("runs", "--limit", "1" + "0" * 21, "--agent", agent_dir)
    assert code == 0, err
    assert "FINISHED" in out


def test_an_error_that_crossed_a_process_keeps_its_message() -> None:
    """gymnasium's AsyncVectorEnv re-raises a worker's error as type(error)(error)."""
    from agentos.errors import AgentOSError

    original = AgentOSError("the widget broke", fix="calibrate it")
    again = AgentOSError(original)  # type: ignore[arg-type]
    assert str(again) == "the widget broke\nFix: calibrate it"


# --- a Minari dataset of the user's own, with values no learner can use ----------------------
def write_dataset(storage: Path, name: str, rewards=None, actions=None, observations=None):
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    steps = 20
    rng = np.random.default_rng(0)
    env = gym.make("CartPole-v1")
    obs = rng.uniform(-0.05, 0.05, (steps + 1, 4)).astype(np.float32)
    episode = EpisodeBuffer(
        observations=obs if observations is None else observations,
        actions=rng.integers(0, 2, steps) if actions is None else actions,
        rewards=np.ones(steps) if rewards is None else rewards,
        terminations=np.r_[np.zeros(steps - 1, bool), True],
        truncations=np.zeros(steps, bool),
        infos={},
    )
    minari.create_dataset_from_buffers(
        name,
        [episode],
        env="CartPole-v1",
        observation_space=env.observation_space,
        action_space=env.action_space,
        data_format="arrow",
        description="a test dataset",
        eval_env="CartPole-v1",
    )


NAN_OBS = np.zeros((21, 4), np.float32)
NAN_OBS[3, 1] = np.nan
DATASETS = [
    # NaN rewards: 50 updates, then "learning diverged" (the data was not named)
    ("nan-rewards", {"rewards": np.full(20, np.nan)}, ("episode 0 has the reward nan at step 0",)),
    ("nan-observation", {"observations": NAN_OBS}, ("NaN or infinite observation at step 3",)),
    # actions outside Discrete(2): learned from silently (JAX clamps the index)
    (
        "actions-out-of-range",
        {"actions": np.full(20, 7)},
        ("the action 7 at step 0, outside its action space Discrete(2)", "mine/bad-v1"),
    ),
]


@pytest.mark.parametrize("name, values, fragments", DATASETS, ids=[d[0] for d in DATASETS])
def test_a_dataset_with_unusable_values(
    agent_dir: Path, cli, monkeypatch, tmp_path: Path, name, values, fragments
) -> None:
    storage = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(storage))
    write_dataset(storage, "mine/bad-v0", **values)
    assert cli("install", "cql", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--offline", "--dataset", "mine/bad-v0", "--steps", "5",
        "-p", "loop.eval_every=0", "-p", "learner.batch_size=8", "--agent", agent_dir,
    )  # fmt: skip
    assert_clean_exit_2(code, out, err, ("dataset 'mine/bad-v0'", *fragments))
    assert not (agent_dir / ".agentos" / "checkpoints").exists()


def test_a_dataset_of_actions_numbered_from_start_is_numbered_from_0(
    tmp_path: Path, monkeypatch
) -> None:
    """Discrete(4, start=3) data: the agent numbers such actions 0..3 (ZeroBasedActions); the
    data's 3..6 went to the learner as they were (indices 4-6 clamped to the last action)."""
    import gymnasium as gym
    import minari
    from minari.data_collector import EpisodeBuffer

    from agentos.datasets.storage import find_dataset, read_episodes

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    steps = 12
    episode = EpisodeBuffer(
        observations=np.zeros((steps + 1, 2), np.float32),
        actions=np.arange(steps) % 4 + 3,
        rewards=np.ones(steps),
        terminations=np.r_[np.zeros(steps - 1, bool), True],
        truncations=np.zeros(steps, bool),
        infos={},
    )
    minari.create_dataset_from_buffers(
        "mine/start3-v0",
        [episode],
        env="CartPole-v1",
        eval_env="CartPole-v1",
        observation_space=gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
        action_space=gym.spaces.Discrete(4, start=3),
        data_format="arrow",
        description="a test dataset",
    )
    folder = find_dataset(tmp_path, "mine/start3-v0")
    episodes, _, act_space = read_episodes(folder, "mine/start3-v0")
    assert act_space == gym.spaces.Discrete(4)
    assert list(episodes[0].actions[:4]) == [0, 1, 2, 3]


def test_a_merge_key_overridden_in_place_is_no_duplicate(agent_dir: Path, cli) -> None:
    """`<<: *base` then a key of the base again: YAML keeps the key written in place (legal);
    it was refused as 'given twice'. Two keys written in one mapping still are."""
    spec = agent_dir / "agentos.yaml"
    text = spec.read_text()
    assert "loop:\n  eval_episodes: 10\n" in text
    base = "x-base: &base {eval_episodes: 3, log_every: 7}\n"
    spec.write_text(text.replace("loop:\n", "loop:\n  <<: {eval_episodes: 3, log_every: 7}\n"))
    code, out, err = cli("show", "--agent", agent_dir)
    assert code == 0, err
    flat = " ".join(out.split())
    assert "eval_episodes = 10" in flat and "log_every = 7" in flat
    spec.write_text(base + text)  # an anchor at the top level is an unknown key, still
    assert_clean_exit_2(*cli("show", "--agent", agent_dir), ("unknown key 'x-base'",))
    spec.write_text(text.replace("loop:\n", "loop:\n  log_every: 3\n  log_every: 4\n"))
    assert_clean_exit_2(*cli("show", "--agent", agent_dir), ("'log_every' is given twice",))


def test_an_interrupted_learn_records_the_steps_its_checkpoint_has() -> None:
    """Ctrl-C wrote the checkpoint at step N, but `agentos runs` showed the steps of the last
    periodic metrics (2,000 for a checkpoint at 2,246), or none before the first."""
    from agentos.envs.corridor import Corridor, CorridorParams
    from agentos.runtime.loop import Hooks, Loop, LoopParams
    from agentos.runtime.roles import Actor, BuildContext

    def context(name: str) -> BuildContext:
        return BuildContext(name=name, seed=0, agent_dir=Path("."))

    class Right(Actor):
        def select_action(self, observation, extras, *, explore, env_steps):
            return np.ones(len(observation), np.int64), extras

    class CtrlC(Hooks):
        def __init__(self) -> None:
            self.calls, self.metrics, self.checkpoints = 0, [], []

        def interrupted(self) -> bool:
            self.calls += 1
            return self.calls > 37

        def on_metrics(self, metrics, step):
            self.metrics.append((step, metrics))

        def on_checkpoint(self, state, final):
            self.checkpoints.append((state["counters"]["env_steps"], final))

    corridor = CorridorParams(length=3, max_steps=10)
    hooks = CtrlC()
    loop = Loop(
        environment=Corridor(corridor, context("environment")),
        actor=Right(None, context("actor")),
        learner=None,
        params=LoopParams(eval_every=0, eval_episodes=1, log_every=1000),
        make_eval_env=lambda: Corridor(corridor, context("eval")),
        seed=0,
        hooks=hooks,
    )
    with pytest.raises(KeyboardInterrupt):
        loop.learn(100)
    assert hooks.checkpoints == [(37, True)]
    step, last = hooks.metrics[-1]
    assert step == 37 and last["train/env_steps"] == 37.0


def test_no_update_for_a_tiny_samples_per_insert_names_it(agent_dir: Path, cli, caplog) -> None:
    """The warning blamed loop.min_replay_size, which the run had passed."""
    assert cli(*DQN, "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "80", "-p", "loop.samples_per_insert=0.01", "-p",
        "loop.min_replay_size=10", "-p", "loop.eval_every=0", "-p", "loop.eval_episodes=1",
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    flat = " ".join(caplog.text.split())
    assert "loop.samples_per_insert=0.01 makes one update due every 6.4e+03 env steps" in flat
    assert "lower -p loop.min_replay_size" not in flat


def test_init_force_keeps_the_users_files(tmp_path: Path, cli) -> None:
    """`init --force` ("overwrite an existing agentos.yaml") also overwrote an edited
    corridor.py; and init into a folder with a corridor.py of its own said it wrote the
    template's."""
    agent = tmp_path / "agent"
    assert cli("init", agent)[0] == 0
    (agent / "corridor.py").write_text("# my own corridor\n")
    code, out, err = cli("init", agent, "--force")
    assert code == 0, err
    assert (agent / "corridor.py").read_text() == "# my own corridor\n"
    flat = " ".join(out.split())
    assert "corridor.py yours, kept as it was (the spec expects its class Corridor)" in flat
    assert "random_policy.py a random actor" in flat
