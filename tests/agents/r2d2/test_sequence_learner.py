"""The sequence learner's overlap (``step(..., wait=False)``): the update runs in a worker
thread, the actor keeps the last finished parameters, the priorities reach the replay just
before the next sample, and the results are those of waiting for every update."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agentos.runtime.checkpoint import load_checkpoint, save_checkpoint

from .test_learner import make, trees_equal


def test_overlapped_updates_end_where_waiting_ones_do():
    waiting, replay_w = make()
    overlapped, replay_o = make()
    metrics_w = [waiting.step(1) for _ in range(5)]
    metrics_o = [overlapped.step(1, wait=False) for _ in range(5)]
    # each call returns the update it read back: the one before it
    assert metrics_o[0] == {}
    assert metrics_o[1:] == metrics_w[:4]
    last_w, both_o = waiting.step(1), overlapped.step(1)  # the 6th; waits for the 5th too
    assert both_o == {k: float(np.mean([metrics_w[4][k], last_w[k]])) for k in last_w}
    assert overlapped.num_updates == waiting.num_updates == 6
    assert trees_equal(overlapped.state.params, waiting.state.params)
    assert trees_equal(overlapped.state.opt_state, waiting.state.opt_state)
    keys = np.arange(len(replay_w))
    np.testing.assert_array_equal(replay_o.get_priorities(keys), replay_w.get_priorities(keys))


def test_the_actor_keeps_the_last_finished_parameters_and_priorities_wait():
    learner, replay = make()
    keys = np.arange(len(replay))
    before = replay.get_priorities(keys)
    first = learner.get_variables()
    learner.step(1, wait=False)
    assert learner.num_updates == 1  # counted, though read back later
    assert trees_equal(learner.get_variables(), first)  # not the update in flight
    assert not trees_equal(learner.state.params, first)
    np.testing.assert_array_equal(replay.get_priorities(keys), before)
    after_one = learner.state.params
    learner.step(1, wait=False)  # reads the first update back, starts the second
    assert not np.array_equal(replay.get_priorities(keys), before)
    assert trees_equal(learner.get_variables(), after_one)
    learner.step(1)  # waits: nothing left in flight
    assert learner.in_flight is None
    assert trees_equal(learner.get_variables(), learner.state.params)


def test_a_checkpoint_keeps_the_update_in_flight(tmp_path: Path):
    a, replay_a = make()
    a.step(2, wait=False)
    state = a.state_dict()
    assert "in_flight" in state
    path = save_checkpoint(
        tmp_path / "ckpt.msgpack", {"learner": state, "replay": replay_a.state_dict()}
    )
    b, replay_b = make(seed=7, num_items=2)
    saved = load_checkpoint(path)
    b.load_state_dict(saved["learner"])
    replay_b.load_state_dict(saved["replay"])
    assert trees_equal(b.get_variables(), a.get_variables())
    assert a.step(2) == b.step(2)  # the in-flight priorities are written, then two updates
    assert trees_equal(a.state.params, b.state.params)
    keys = np.arange(len(replay_a))
    np.testing.assert_array_equal(replay_a.get_priorities(keys), replay_b.get_priorities(keys))


def test_close_waits_for_the_update_and_stops_the_thread():
    learner, _ = make()
    learner.step(1, wait=False)
    learner.close()
    assert learner._update_thread is None
    assert learner.in_flight is not None and learner.in_flight.running is None
