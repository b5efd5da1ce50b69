"""`agentos record --from-run`: an online run's uniform replay exported as a Minari dataset."""

from __future__ import annotations

import numpy as np
import pytest

from agentos.datasets.export import replay_contents, replay_episodes
from agentos.datasets.storage import DatasetError
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, Transition
from tests.cli.bad_input_checks import assert_clean_exit_2
from tests.datasets.test_offline_cli import TINY, _install_cql
from tests.tiny_agents import TINY_AGENT57

# Two environment copies, 9 steps each: copy 0 plays A (3 steps, terminated), B (4,
# truncated), C (2, still running); copy 1 plays D (5, terminated), E (4, still running).
PLAYS = [[(3, "term"), (4, "trunc"), (2, "run")], [(5, "term"), (4, "run")]]


def _streams() -> list[list[dict]]:
    """Each copy's steps; observations are unique numbers, so continuity can be checked."""
    streams = []
    for copy, episodes in enumerate(PLAYS):
        steps, t = [], 0
        for length, end in episodes:
            for k in range(length):
                last = k == length - 1
                steps.append(
                    {
                        "obs": [copy * 100 + t, 0.0],
                        # an episode's final observation differs from the next reset's
                        "next": [copy * 100 + t + (50.5 if last and end != "run" else 1), 0.0],
                        "action": (t + copy) % 2,
                        "reward": float(t),
                        "term": last and end == "term",
                        "trunc": last and end == "trunc",
                    }
                )
                t += 1
        streams.append(steps)
    return streams


def _replay_contents(capacity: int) -> dict[str, np.ndarray]:
    """What a uniform_replay of ``capacity`` fed both copies step by step checkpoints."""
    context = BuildContext(
        name="replay", seed=0, agent_dir=".", observation_space=None, action_space=None, num_envs=2
    )
    replay = UniformReplay(UniformReplay.Params(capacity=capacity), context)
    streams = _streams()
    for t in range(9):
        rows = [stream[t] for stream in streams]
        replay.add(
            Transition(
                observation=np.array([r["obs"] for r in rows], np.float32),
                action=np.array([r["action"] for r in rows]),
                reward=np.array([r["reward"] for r in rows], np.float32),
                terminated=np.array([r["term"] for r in rows]),
                truncated=np.array([r["trunc"] for r in rows]),
                next_observation=np.array([r["next"] for r in rows], np.float32),
            )
        )
    return replay.state_dict()["contents"]


@pytest.mark.parametrize("env_steps", [18, None])
@pytest.mark.parametrize(
    "capacity, lengths, first_obs, terminated, truncated",
    [
        # rows 4..17 kept: steps 2..8 of both copies. A keeps 1 step, D 3 (they lost their
        # beginnings), then B, E, C in the order they started; E and C end truncated by the
        # checkpoint.
        (14, [1, 3, 4, 4, 2], [2, 102, 3, 105, 7], [1, 1, 0, 0, 0], [0, 0, 1, 1, 1]),
        # rows 5..17 kept (the oldest row is copy 1's): A is gone entirely.
        (13, [3, 4, 4, 2], [102, 3, 105, 7], [1, 0, 0, 0], [0, 1, 1, 1]),
        # nothing evicted: the five episodes whole
        (18, [3, 5, 4, 4, 2], [0, 100, 3, 105, 7], [1, 1, 0, 0, 0], [0, 0, 1, 1, 1]),
    ],
)
def test_replay_episodes_rebuild_each_copys_episodes(
    capacity, lengths, first_obs, terminated, truncated, env_steps
):
    episodes = replay_episodes(_replay_contents(capacity), num_envs=2, env_steps=env_steps)
    assert [len(ep.rewards) for ep in episodes] == lengths
    assert [ep.observations[0, 0] for ep in episodes] == first_obs
    assert [int(ep.terminations[-1]) for ep in episodes] == terminated
    assert [int(ep.truncations[-1]) for ep in episodes] == truncated
    for ep in episodes:
        assert not ep.terminations[:-1].any() and not ep.truncations[:-1].any()
        np.testing.assert_array_equal(ep.observations[1:-1, 0], ep.observations[:-2, 0] + 1)
        np.testing.assert_array_equal(ep.rewards, ep.observations[:-1, 0] % 100)
    assert episodes[0].observations.shape[1:] == (2,) and episodes[0].actions.dtype == np.int64


def test_a_replay_that_is_not_continuous_is_refused():
    contents = _replay_contents(18)
    contents["next_observation"][0, 0] = -1.0
    with pytest.raises(DatasetError, match="do not form continuous trajectories"):
        replay_episodes(contents, num_envs=2)


def _fed_sequence_replay(burn_in: int, trace: int, period: int):
    """R2D2's adder and sequence replay fed two copies' episodes, every one ended; returns the
    replay's checkpointed contents and keys, and every transition fed (as tuples)."""
    from agentos.agents.r2d2.adder import SequenceAdder
    from agentos.replay.prioritized import PrioritizedSequenceReplay

    # copy 0: 13 steps terminated, 2 (not more than burn_in: never stored), 9 truncated;
    # copy 1: 7 terminated, 17 truncated. 24 steps each.
    plays = [[(13, "term"), (2, "term"), (9, "trunc")], [(7, "term"), (17, "trunc")]]
    context = BuildContext(
        name="replay", seed=0, agent_dir=".", observation_space=None, action_space=None, num_envs=2
    )
    replay = PrioritizedSequenceReplay(PrioritizedSequenceReplay.Params(capacity=100), context)
    adder = SequenceAdder(replay, 2, burn_in, trace, period)
    streams, fed = [], []
    for copy, episodes in enumerate(plays):
        steps, t = [], 0
        for length, end in episodes:
            for k in range(length):
                last = k == length - 1
                step = (
                    float(copy * 1000 + t), (t * 7 + copy) % 3, float(t % 5),
                    float(copy * 1000 + t + (500.5 if last else 1)), last and end == "term",
                    last and end == "trunc",
                )  # fmt: skip
                steps.append(step)
                fed.append(step[:5])  # episodes shorter than the burn-in too (padded)
                t += 1
        streams.append(steps)
    zeros = {"lstm_h": np.zeros((2, 3), np.float32), "lstm_c": np.zeros((2, 3), np.float32)}
    for t in range(24):
        rows = [stream[t] for stream in streams]
        adder.add(
            np.array([[r[0], 0.0] for r in rows], np.float32),
            np.array([r[1] for r in rows]),
            np.array([r[2] for r in rows], np.float32),
            np.array([r[4] for r in rows]),
            np.array([r[5] for r in rows]),
            np.array([[r[3], 0.0] for r in rows], np.float32),
            start_state=zeros,
        )
    state = replay.state_dict()
    return state, fed


@pytest.mark.parametrize(
    "burn_in, trace, period", [(2, 6, 4), (2, 6, 3), (3, 4, 2), (1, 4, 5), (0, 3, 2)]
)
def test_sequence_replay_exports_each_stored_step_once(burn_in, trace, period):
    from agentos.datasets.export import sequence_fragments

    state, fed = _fed_sequence_replay(burn_in, trace, period)
    contents = replay_contents({"loop": {"components": {"replay": state}}}, "0123456789")
    fragments = sequence_fragments(contents, burn_in, period)
    exported = [
        (
            float(ep.observations[k, 0]),
            int(ep.actions[k]),
            float(ep.rewards[k]),
            float(ep.observations[k + 1, 0]),
            bool(ep.terminations[k]),
        )  # fmt: skip
        for ep in fragments
        for k in range(len(ep.rewards))
    ]
    if period < burn_in + trace:
        assert sorted(exported) == sorted(fed)
    else:  # no overlap: each sequence's last step has no next observation in it
        assert set(exported) < set(fed) and len(exported) == len(set(exported))
    for ep in fragments:
        assert ep.terminations[-1] != ep.truncations[-1]
        assert not (ep.terminations[:-1].any() or ep.truncations[:-1].any())


def test_agent57_sequences_export_the_extrinsic_reward_and_the_arm():
    from agentos.datasets.export import sequence_fragments

    # One sequence (burn-in 1, period 2) of an episode that terminates at x_3: steps x_0..x_2
    # acted with arm 2, reward [r_e, r_i] of arriving at x_t, the final observation padded.
    replay = {
        "contents": {
            "observation": np.arange(5, dtype=np.float32)[None, :, None],
            "action": np.array([[1, 0, 1, 0, 0]]),
            "reward": np.array([[[0, 0], [1, 10], [2, 20], [3, 30], [0, 0]]], np.float32),
            "discount": np.array([[1, 1, 1, 0, 0]], np.float32),
            "mask": np.array([[1, 1, 1, 0, 0]], np.float32),
            "arm": np.array([[2, 2, 2, 0, 0]], np.float32),
        },
        "keys": [0],
        "priorities": [1.0],
    }
    contents = replay_contents({"loop": {"components": {"replay": replay}}}, "0123456789")
    (episode,) = sequence_fragments(contents, burn_in=1, period=2)
    np.testing.assert_array_equal(episode.rewards, [1, 2, 3])  # extrinsic only
    np.testing.assert_array_equal(episode.terminations, [False, False, True])
    np.testing.assert_array_equal(episode.extras["arm"], [2, 2, 2, 2])  # last row repeats


@pytest.mark.parametrize(
    "replay, fragment",
    [
        (
            {
                "contents": {
                    "reward": np.zeros((1, 4, 3)),
                    **{k: np.zeros((1, 4)) for k in ("observation", "action", "discount", "mask")},
                },
                "keys": [0],
                "priorities": [1.0],
            },
            "neither R2D2",
        ),  # fmt: skip
        ({}, "holds no replay contents"),
        ({"contents": {"observation": np.zeros(2)}}, "not a uniform replay"),
    ],
)
def test_replays_that_cannot_be_exported_are_refused(replay, fragment):
    with pytest.raises(DatasetError, match=fragment) as caught:
        replay_contents({"loop": {"components": {"replay": replay}}}, "0123456789")
    assert caught.value.fix


def test_record_from_run_then_learn_offline(cli, agent_dir):
    from agentos.datasets.storage import agent_storage, read_sidecar
    from agentos.tracking.store import get_run

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", 300, *TINY, "-p", "loop.min_replay_size=100", "-p",
        "loop.eval_every=0", "-p", "environment.num_envs=2", "-p", "replay.capacity=250",
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    run_id = get_run(agent_dir, out.split("Done run")[1].split()[0].rstrip(":")).summary.run_id
    code, out, err = cli(
        "record", "--from-run", run_id[:8], "--dataset", "mixed-v0", "--agent", agent_dir
    )
    assert code == 0, err
    assert "250 steps" in " ".join(out.split())
    sidecar = read_sidecar(agent_storage(agent_dir) / "mixed-v0")
    assert sidecar["from_run"] == run_id and sidecar["steps"] == 250
    assert get_run(agent_dir, sidecar["record_run"]).tags["agentos.from_run"] == run_id
    _install_cql(cli, agent_dir)
    code, out, err = cli(
        "learn", "--offline", "--no-eval", "--dataset", "mixed-v0", "--steps", 50, *TINY,
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    # the agent now holds the dataset in its replay slot: nothing to export
    code, out, err = cli(
        "record", "--from-run", "latest", "--dataset", "again-v0", "--agent", agent_dir
    )
    assert_clean_exit_2(code, out, err, ("learned offline from a dataset",))


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (("--dataset", "x-v0"), "either --episodes N"),
        (("--episodes", 2, "--from-run", "latest", "--dataset", "x-v0"), "either --episodes N"),
        (("--from-run", "latest", "--explore", "--dataset", "x-v0"), "apply to playing"),
    ],
)
def test_record_usage_mistakes_exit_2(cli, agent_dir, argv, fragment):
    cli("install", "random", "cartpole", "--agent", agent_dir)
    code, out, err = cli("record", *argv, "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, (fragment,))


def test_record_from_an_r2d2_run(cli, agent_dir):
    from agentos.datasets.storage import agent_storage, read_sidecar

    assert cli("install", "r2d2", "cartpole", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", 400, "-p", "loop.min_replay_size=100000", "-p", "loop.eval_every=0",
        "-p", "loop.eval_episodes=1", "-p", "environment.num_envs=2", "-p", "actor.burn_in=2",
        "-p", "actor.trace_length=6", "-p", "actor.period=4", "-p", "network.lstm_size=8",
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(
        "record", "--from-run", "latest", "--dataset", "r2d2-v0", "--agent", agent_dir
    )
    assert code == 0, err
    sidecar = read_sidecar(agent_storage(agent_dir) / "r2d2-v0")
    # at most the 400 steps acted; those of sequences still open at the end are missing
    assert 300 < sidecar["steps"] <= 400


def test_record_from_an_agent57_run_keeps_extrinsic_rewards_and_arms(cli, agent_dir, monkeypatch):
    import minari

    from agentos.datasets.storage import agent_storage, read_sidecar

    assert cli("install", "agent57", "cartpole", "--agent", agent_dir)[0] == 0
    tiny = [p for p in TINY_AGENT57 if not p.startswith(("environment.length", "loop."))]
    code, _, err = cli(
        "learn", "--steps", 300, "-p", "loop.min_replay_size=100000", "-p", "loop.eval_every=0",
        *(arg for p in tiny for arg in ("-p", p)), "-p", "replay.capacity=1000",  # keeps all
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli(
        "record", "--from-run", "latest", "--dataset", "a57-v0", "--agent", agent_dir
    )
    assert code == 0, err
    assert 200 < read_sidecar(agent_storage(agent_dir) / "a57-v0")["steps"] <= 300
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(agent_storage(agent_dir)))
    for ep in minari.load_dataset("a57-v0").iterate_episodes():
        assert set(np.unique(ep.rewards)) <= {1.0}  # CartPole's extrinsic reward, no novelty
        assert set(ep.infos) == {"arm"} and len(ep.infos["arm"]) == len(ep.rewards) + 1
        assert 0 <= ep.infos["arm"].min() and ep.infos["arm"].max() < 3  # network.num_arms=3
