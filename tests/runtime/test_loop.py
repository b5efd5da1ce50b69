"""The one loop: samples-per-insert, evaluation kept apart, checkpoints, early stop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentos.envs.corridor import Corridor, CorridorParams
from agentos.runtime.loop import Hooks, Loop, LoopParams
from agentos.runtime.roles import Actor, BuildContext, Learner


def _ctx(name: str) -> BuildContext:
    return BuildContext(name=name, seed=0, agent_dir=Path("."))


class RightActor(Actor):
    """Always walks right; counts what it saw."""

    def __init__(self):
        super().__init__(None, _ctx("actor"))
        self.observed = 0
        self.updates = 0

    def select_action(self, observation, extras, *, explore, env_steps):
        return np.ones(len(observation), np.int64), extras

    def observe(self, transition):
        self.observed += len(transition.action)
        return len(transition.action)

    def update(self, variables):
        self.updates += 1


class CountingLearner(Learner):
    batch_size = 4

    def __init__(self):
        super().__init__(None, _ctx("learner"))
        self.updates = 0

    def step(self, num_updates=1):
        self.updates += num_updates
        return {"loss": 0.0}

    def get_variables(self):
        return self.updates


class Recorder(Hooks):
    def __init__(self, stop_at=None):
        self.metrics, self.checkpoints, self.stop_at, self.steps = [], [], stop_at, 0

    def on_metrics(self, metrics, step):
        self.metrics.append((step, metrics))
        self.steps = step

    def on_checkpoint(self, state, final):
        self.checkpoints.append((state["counters"]["env_steps"], final))

    def should_stop(self):
        return self.stop_at is not None and self.steps >= self.stop_at


def _loop(params, hooks=None, num_envs=2):
    env = Corridor(CorridorParams(length=3, num_envs=num_envs), _ctx("environment"))
    actor, learner = RightActor(), CountingLearner()
    loop = Loop(
        environment=env,
        actor=actor,
        learner=learner,
        params=params,
        make_eval_env=lambda: Corridor(CorridorParams(length=3), _ctx("eval")),
        seed=0,
        hooks=hooks,
    )
    return loop, actor, learner


def test_samples_per_insert_ratio_holds():
    params = LoopParams(samples_per_insert=2.0, min_replay_size=10, eval_every=0, log_every=10)
    loop, actor, learner = _loop(params)
    loop.learn(100)
    # floor((100 - 10) * 2 / 4) = 45 updates, every one of them run, none waiting
    assert learner.updates == 45 == loop.counters.learner_updates
    assert actor.observed == 100 and actor.updates > 0


def test_learn_every_batches_updates():
    params = LoopParams(
        samples_per_insert=1.0, min_replay_size=0, learn_every=20, eval_every=0, log_every=10
    )
    loop, actor, learner = _loop(params)
    loop.learn(100)
    assert loop.counters.learner_calls == 5  # at 20, 40, 60, 80, 100
    assert learner.updates == 25


def test_evaluation_counted_apart_from_training():
    params = LoopParams(eval_every=50, eval_episodes=3, checkpoint_every=40, log_every=10)
    loop, actor, _ = _loop(params)
    loop.learn(100)
    c = loop.counters
    assert c.env_steps == 100 and c.episodes == 2 * (50 // 3)  # 2 envs x 50 steps, 3 per episode
    assert c.evaluations == 2 and c.eval_episodes == 6
    assert [h["returns"] for h in loop.eval_history] == [[-2.0] * 3] * 2
    assert actor.observed == 100  # evaluation never feeds replay


def test_actor_evaluation_stats_reach_the_metrics():
    hooks = Recorder()
    params = LoopParams(eval_every=50, eval_episodes=3, log_every=10)
    loop, actor, _ = _loop(params, hooks)
    calls = []
    actor.pop_eval_stats = lambda: calls.append(1) or {"greedy_return_mean": -2.0}
    loop.learn(50)
    evals = [m for _, m in hooks.metrics if "eval/return_mean" in m]
    assert len(evals) == len(calls) == 1  # popped once per evaluation
    assert evals[0]["eval/greedy_return_mean"] == -2.0 and evals[0]["eval/return_mean"] == -2.0


def test_an_evaluation_tells_the_hooks_how_far_it_is(monkeypatch):
    import agentos.runtime.reporting as reporting

    clock = iter(range(0, 100_000))  # a second passes at every reading: nothing is throttled
    monkeypatch.setattr(reporting.time, "perf_counter", lambda: float(next(clock)))
    seen = []
    hooks = Recorder()
    hooks.on_progress = seen.append
    params = LoopParams(eval_every=50, eval_episodes=3, log_every=10)
    loop, _, _ = _loop(params, hooks)
    loop.learn(50)
    evaluating = [p.evaluating for p in seen if p.evaluating is not None]
    # one env copy plays the 3 corridor episodes of 3 steps each: a report per step
    assert evaluating == [(0, 3), (0, 3), (1, 3), (1, 3), (1, 3), (2, 3), (2, 3), (2, 3), (3, 3)]
    assert seen[0].evaluating is None and seen[0].last_eval is None
    assert seen[-1].evaluating is None and seen[-1].last_eval == -2.0  # the bar's last word


def test_checkpoints_periodic_and_final_and_early_stop():
    hooks = Recorder(stop_at=60)
    params = LoopParams(eval_every=0, checkpoint_every=40, log_every=10)
    loop, _, _ = _loop(params, hooks)
    loop.learn(1000)
    assert loop.counters.env_steps < 1000
    assert hooks.checkpoints[0] == (40, False) and hooks.checkpoints[-1][1] is True


def test_state_round_trip_continues_counters():
    params = LoopParams(samples_per_insert=1.0, min_replay_size=0, eval_every=0, log_every=10)
    loop, _, _ = _loop(params)
    loop.learn(40)
    state = loop.state_dict()
    again, _, _ = _loop(params)
    again.load_state_dict(state)
    assert again.counters == loop.counters
    again.learn(80)
    assert again.counters.env_steps == 80 and again.counters.learner_updates == 20


def test_time_based_checkpoints(monkeypatch):
    import agentos.runtime.reporting as reporting

    clock = iter(range(0, 100_000, 7))  # 7 "seconds" pass at every reading of the clock
    monkeypatch.setattr(reporting.time, "perf_counter", lambda: float(next(clock)))
    hooks = Recorder()
    params = LoopParams(eval_every=0, checkpoint_every=0, checkpoint_seconds=20, log_every=10)
    loop, _, _ = _loop(params, hooks)
    loop.learn(40)
    periodic = [s for s, final in hooks.checkpoints if not final]
    assert periodic and hooks.checkpoints[-1] == (40, True)
    hooks = Recorder()
    params = LoopParams(eval_every=0, checkpoint_every=0, checkpoint_seconds=0, log_every=10)
    loop, _, _ = _loop(params, hooks)
    loop.learn(40)
    assert [final for _, final in hooks.checkpoints] == [True]  # by steps only: just the end


class SlowSaves(Recorder):
    """Every checkpoint takes ``seconds`` of the (fake) clock to write."""

    def __init__(self, clock, seconds):
        super().__init__()
        self.clock, self.seconds = clock, seconds

    def on_checkpoint(self, state, final):
        super().on_checkpoint(state, final)
        self.clock[0] += self.seconds


def test_slow_checkpoints_are_postponed_to_keep_their_share_of_time(monkeypatch):
    import agentos.runtime.reporting as reporting

    def checkpoints(overhead, save_seconds):
        clock = [0.0]

        def tick():
            clock[0] += 0.5  # half a "second" between readings: 20 env steps take ~5 s
            return clock[0]

        monkeypatch.setattr(reporting.time, "perf_counter", tick)
        hooks = SlowSaves(clock, save_seconds)
        params = LoopParams(
            eval_every=0,
            checkpoint_every=20,
            checkpoint_seconds=0,
            checkpoint_overhead=overhead,
            log_every=10,
        )
        _loop(params, hooks)[0].learn(400)
        return [s for s, final in hooks.checkpoints if not final]

    every = checkpoints(0.0, 10.0)
    assert every == list(range(20, 401, 20))  # no limit: one at every crossing
    assert checkpoints(0.05, 0.25) == every  # saves under a second never wait
    postponed = checkpoints(0.05, 10.0)  # 10 s saves at 5%: >= 200 s apart
    assert 1 <= len(postponed) < len(every) // 4
    assert postponed[0] == 20  # the first is never postponed


def test_the_best_state_leaves_the_replay_out():
    from agentos.replay.uniform import UniformReplay

    class BestRecorder(Recorder):
        best = None

        def on_best(self, state):
            self.best = state

    hooks = BestRecorder()
    params = LoopParams(samples_per_insert=1.0, min_replay_size=0, eval_every=20, log_every=10)
    loop, actor, learner = _loop(params, hooks)
    replay = UniformReplay(UniformReplay.Params(capacity=100), _ctx("replay"))
    loop.components = {"actor": actor, "learner": learner, "replay": replay}
    loop.learn(40)
    assert hooks.best is not None and set(hooks.best["components"]) == {"actor", "learner"}
    assert set(loop.state_dict()["components"]) == {"actor", "learner", "replay"}


class StuckActor(RightActor):
    """Walks left forever: with a corridor that never cuts episodes, none ends."""

    def select_action(self, observation, extras, *, explore, env_steps):
        return np.zeros(len(observation), np.int64), extras


class InterruptAfter(Recorder):
    """A Ctrl-C (or kill) arriving after ``calls`` checks of the interrupt flag."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def interrupted(self):
        self.calls -= 1
        return self.calls < 0


def _stuck_loop(hooks):
    never = CorridorParams(length=3, max_steps=10**9)
    loop = Loop(
        environment=Corridor(never, _ctx("environment")),
        actor=StuckActor(),
        learner=None,
        params=LoopParams(eval_every=0, eval_episodes=1, log_every=10),
        make_eval_env=lambda: Corridor(never, _ctx("eval")),
        seed=0,
        hooks=hooks,
    )
    return loop


def test_an_interrupt_stops_an_evaluation_episode_that_never_ends():
    import pytest

    loop = _stuck_loop(InterruptAfter(50))
    with pytest.raises(KeyboardInterrupt):
        loop.evaluate(1)


def test_an_interrupt_in_the_final_evaluation_keeps_the_steps():
    import pytest

    hooks = InterruptAfter(30)  # 20 checks in the learn steps, then 10 in the evaluation
    loop = _stuck_loop(hooks)
    with pytest.raises(KeyboardInterrupt):
        loop.learn(20)
    assert hooks.checkpoints == [(20, True)]


def test_a_long_evaluation_episode_is_warned_about(monkeypatch, caplog):
    import agentos.runtime.loop as loop_module

    monkeypatch.setattr(loop_module, "LONG_EVAL_EPISODE", 20)
    loop = _stuck_loop(InterruptAfter(60))
    with caplog.at_level("WARNING", logger="agentos.runtime.loop"):
        try:
            loop.evaluate(1)
        except KeyboardInterrupt:
            pass
    warnings = [r.getMessage() for r in caplog.records if "without ending" in r.getMessage()]
    assert len(warnings) == 1 and "environment.max_episode_steps" in warnings[0]


def test_a_learn_without_any_update_is_warned_about(caplog):
    params = LoopParams(samples_per_insert=1.0, min_replay_size=1000, eval_every=0, log_every=10)
    loop, _, learner = _loop(params)
    with caplog.at_level("WARNING", logger="agentos.runtime.loop"):
        loop.learn(40)
    assert learner.updates == 0
    assert any("loop.min_replay_size=1000" in r.getMessage() for r in caplog.records)
    caplog.clear()
    loop, _, _ = _loop(LoopParams(samples_per_insert=1.0, min_replay_size=0, eval_every=0))
    with caplog.at_level("WARNING", logger="agentos.runtime.loop"):
        loop.learn(40)
    assert not any("no update" in r.getMessage() for r in caplog.records)


def test_a_state_saved_by_another_component_is_a_checkpoint_error():
    """A CQL run's dataset state loaded into DQN's replay (`install dqn` after `install
    cql`, then `run`) was a KeyError traceback."""
    from agentos.errors import CheckpointError
    from agentos.replay.uniform import UniformReplay
    from agentos.runtime.loop import _load_component

    replay = UniformReplay(
        UniformReplay.Params(capacity=10), BuildContext(name="replay", seed=0, agent_dir=Path("."))
    )
    with pytest.raises(CheckpointError, match="saved by another component than the UniformReplay"):
        _load_component("replay", replay, {"rng": {}, "digest": "sha256:0"})
