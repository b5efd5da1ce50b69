"""The sequence dataset: a Minari dataset cut by the R2D2 adder into sequences with burn-in,
sampled exactly as prioritized sequence replay; read-only, resumable, short data refused."""

from __future__ import annotations

import numpy as np
import pytest

from agentos.agents.r2d2.adder import SequenceAdder
from agentos.datasets.sequences import OfflineSequenceDataset, dataset_sequences
from agentos.datasets.storage import DatasetError, Episode
from agentos.errors import ParameterError
from agentos.replay.prioritized import PrioritizedSequenceReplay
from tests.datasets.helpers import write
from tests.datasets.test_component import _context

BURN_IN, TRACE, PERIOD, STATE = 1, 3, 2, 5


def _params(**kwargs) -> OfflineSequenceDataset.Params:
    fields = {"burn_in": BURN_IN, "trace_length": TRACE, "period": PERIOD, "state_size": STATE}
    return OfflineSequenceDataset.Params(dataset="toy-v0", **{**fields, **kwargs})


def test_an_episode_cut_into_sequences_by_hand():
    # 5 steps, terminated; T = 4, a new sequence every 2 steps. The episode starts with one
    # padding step (the burn-in), so the first sequence is (padding, x_0, x_1, x_2); then
    # x_1..x_4 when the adder holds 4 steps; at the end x_3, x_4 and the final observation x_5
    # (mask 0, discount 0). x_5 alone would have no real action in its trace: dropped.
    obs = np.arange(6, dtype=np.float32)[:, None].repeat(4, axis=1)
    ep = Episode(
        observations=obs,
        actions=np.array([1, 0, 1, 1, 0]),
        rewards=np.array([10, 20, 30, 40, 50], np.float32),
        terminations=np.array([0, 0, 0, 0, 1], bool),
        truncations=np.zeros(5, bool),
    )
    seq = dataset_sequences([ep], BURN_IN, TRACE, PERIOD, STATE)
    np.testing.assert_array_equal(
        seq["observation"][:, :, 0], [[0, 0, 1, 2], [1, 2, 3, 4], [3, 4, 5, 0]]
    )
    np.testing.assert_array_equal(seq["action"], [[0, 1, 0, 1], [0, 1, 1, 0], [1, 0, 0, 0]])
    # reward[t] is received on arriving at x_t (0 at t = 0); prev_action is a_{t-1}
    np.testing.assert_array_equal(
        seq["reward"], [[0, 0, 10, 20], [10, 20, 30, 40], [30, 40, 50, 0]]
    )
    np.testing.assert_array_equal(seq["prev_action"], [[0, 0, 1, 0], [1, 0, 1, 1], [1, 1, 0, 0]])
    np.testing.assert_array_equal(seq["mask"], [[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
    np.testing.assert_array_equal(seq["discount"], [[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 0, 0]])
    assert seq["lstm_h"].shape == (3, STATE) and not seq["lstm_h"].any() and not seq["lstm_c"].any()
    # an episode that stops without an end flag is bootstrapped at its last step (truncated)
    open_ep = Episode(ep.observations, ep.actions, ep.rewards, np.zeros(5, bool), np.zeros(5, bool))
    assert dataset_sequences([open_ep], BURN_IN, TRACE, PERIOD, STATE)["discount"][-1, 2] == 1.0


def test_sequences_start_from_the_stored_state_of_their_first_step():
    # The same 5-step episode, now with the recorded state: row t is what the actor acted
    # from in x_t. Sequences start at x_0 (after the padding), x_1 and x_3: rows 0, 1 and 3.
    steps = np.arange(6, dtype=np.float32)[:, None].repeat(STATE, axis=1)
    extras = {"lstm_h": steps + 0.5, "lstm_c": -steps, "arm": np.zeros(6, np.int32)}
    ep = Episode(
        observations=steps[:, :4],
        actions=np.array([1, 0, 1, 1, 0]),
        rewards=np.ones(5, np.float32),
        terminations=np.array([0, 0, 0, 0, 1], bool),
        truncations=np.zeros(5, bool),
        extras=extras,
    )
    seq = dataset_sequences([ep], BURN_IN, TRACE, PERIOD, STATE)
    np.testing.assert_array_equal(seq["lstm_h"], [[0.5] * STATE, [1.5] * STATE, [3.5] * STATE])
    np.testing.assert_array_equal(seq["lstm_c"], [[0.0] * STATE, [-1.0] * STATE, [-3.0] * STATE])
    zero = dataset_sequences([ep], BURN_IN, TRACE, PERIOD, STATE, stored_state=False)
    assert not zero["lstm_h"].any() and not zero["lstm_c"].any()
    for key in ("observation", "action", "reward", "discount", "mask"):
        np.testing.assert_array_equal(seq[key], zero[key], err_msg=key)


def test_a_dataset_with_stored_states_yields_them_and_zero_forces_zeros(tmp_path):
    _, episodes = write(tmp_path, lengths=(7, 4, 9), state_size=STATE)
    dataset = OfflineSequenceDataset(_params(), _context(tmp_path))
    assert dataset.lineage()["start_state"] == "stored"
    starts = {
        tuple(ep.extras["lstm_h"][t]): ep.extras["lstm_c"][t]
        for ep in episodes
        # x_0 (after the padding), then every PERIOD steps from x_1 while a trace remains
        for t in [0, *range(PERIOD - BURN_IN, len(ep.rewards) - BURN_IN, PERIOD)]
    }
    batch = dataset.sample(8)
    for h, c in zip(batch.items["lstm_h"], batch.items["lstm_c"], strict=True):
        np.testing.assert_array_equal(c, starts[tuple(h)])
    assert len(starts) == len(dataset)
    zero = OfflineSequenceDataset(_params(start_state="zero"), _context(tmp_path))
    assert zero.lineage()["start_state"] == "zero" and not zero.sample(8).items["lstm_h"].any()


def test_a_stored_state_of_another_width_is_refused(tmp_path):
    write(tmp_path, lengths=(7, 4), state_size=STATE + 1)
    with pytest.raises(DatasetError, match=r"stored lstm_h is \(6,\) per step") as caught:
        OfflineSequenceDataset(_params(), _context(tmp_path))
    assert "replay.start_state=zero" in caught.value.fix
    assert len(OfflineSequenceDataset(_params(start_state="zero"), _context(tmp_path))) > 0
    with pytest.raises(ParameterError, match="start_state"):
        _params(start_state="random")


def test_batches_equal_sequence_replay_fed_by_the_r2d2_adder(tmp_path):
    _, episodes = write(tmp_path, lengths=(7, 4, 9))
    context = _context(tmp_path)
    dataset = OfflineSequenceDataset(_params(), context)
    replay = PrioritizedSequenceReplay(
        PrioritizedSequenceReplay.Params(capacity=len(dataset)), context
    )
    adder = SequenceAdder(replay, 1, BURN_IN, TRACE, PERIOD)
    zeros = {k: np.zeros((1, STATE), np.float32) for k in ("lstm_h", "lstm_c")}
    for ep in episodes:
        for t in range(len(ep.rewards)):
            adder.add(
                ep.observations[t : t + 1], ep.actions[t : t + 1], ep.rewards[t : t + 1],
                ep.terminations[t : t + 1], ep.truncations[t : t + 1],
                ep.observations[t + 1 : t + 2], start_state=zeros,
            )  # fmt: skip
    assert len(dataset) == len(replay) == adder.sequences_added > 0
    for _ in range(3):
        ours, theirs = dataset.sample(4), replay.sample(4)
        np.testing.assert_array_equal(ours.keys, theirs.keys)
        np.testing.assert_array_equal(ours.weights, theirs.weights)
        assert set(ours.items) == set(theirs.items)
        for key in ours.items:
            np.testing.assert_array_equal(ours.items[key], theirs.items[key], err_msg=key)
        priorities = np.arange(1.0, 5.0)
        dataset.update_priorities(ours.keys, priorities)
        replay.update_priorities(theirs.keys, priorities)
    assert dataset.lineage()["sequences"] == len(dataset)
    assert dataset.lineage()["start_state"] == "zero"  # no stored state in this dataset


def test_resume_restores_the_sampler_and_the_dataset_is_read_only(tmp_path):
    write(tmp_path, lengths=(7, 4, 9))
    first = OfflineSequenceDataset(_params(), _context(tmp_path))
    first.update_priorities(first.sample(4).keys, np.array([5.0, 1.0, 2.0, 3.0]))
    state = first.state_dict()
    assert "contents" not in state and state["digest"] == first.digest
    second = OfflineSequenceDataset(_params(), _context(tmp_path))
    second.load_state_dict(state)
    a, b = first.sample(4), second.sample(4)
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.weights, b.weights)
    with pytest.raises(DatasetError, match="cannot store new experience"):
        second.add_items({k: v[:1] for k, v in a.items.items()})
    second.load_state_dict({**state, "digest": "sha256:other"})
    with pytest.raises(DatasetError, match="the checkpoint was learning from dataset"):
        second.sample(4)


def test_episodes_shorter_than_the_burn_in_give_sequences(tmp_path):
    # burn_in 3, T = 6: each episode's one sequence is padding, its 2 or 3 steps, its final
    # observation (they used to give none, and such a dataset was refused)
    write(tmp_path, lengths=(2, 3))
    dataset = OfflineSequenceDataset(_params(burn_in=3), _context(tmp_path))
    assert len(dataset) == 2
    masks = dataset.sample(2).items["mask"]
    assert {tuple(m) for m in masks.tolist()} <= {(0, 0, 0, 1, 1, 0), (0, 0, 0, 1, 1, 1)}


RECURRENT_TINY = [
    *("-p", "network.hidden_sizes=[8]", "-p", "network.lstm_size=8"),
    *("-p", "network.head_hidden=8", "-p", "learner.batch_size=4"),
    *("-p", "actor.burn_in=2", "-p", "actor.trace_length=6", "-p", "actor.period=4"),
    *("-p", "learner.n_step=2", "-p", "loop.eval_episodes=1", "-p", "loop.log_every=10"),
    *("-p", "loop.eval_every=20", "-p", "loop.checkpoint_every=20"),
]


def test_r2d2_cql_learns_offline_and_reruns_exactly(cli, agent_dir):
    from agentos.tracking.store import get_run
    from tests.datasets.test_offline_cli import _install_cql, _record_random

    _record_random(cli, agent_dir, episodes=6)
    _install_cql(cli, agent_dir, "r2d2_cql")
    code, out, err = cli(
        "learn", "--offline", "--dataset", "rand-v0", "--steps", 20, *RECURRENT_TINY,
        "--agent", agent_dir,
    )  # fmt: skip
    assert code == 0, err
    assert "20 learner updates, 0 env steps" in " ".join(out.split())
    run = get_run(agent_dir, out.split("Done run")[1].split()[0].rstrip(":"))
    assert run.summary.steps == 20 and run.tags["agentos.dataset"] == "rand-v0"
    assert {"train/conservative", "train/td_loss", "eval/return_mean"} <= set(run.metrics)
    code, out, err = cli("rerun", run.summary.run_id[:8], "--agent", agent_dir)
    assert code == 0 and "Reproduced exactly" in out, out + err
