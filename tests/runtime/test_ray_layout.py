"""The Ray layout (``learn --actors N``): the same tiny agents learn with their acting in worker
processes; the run is complete and tracked, Ray listens on loopback only, a worker, a replay
shard and the evaluator killed with SIGKILL are replaced and their restarts recorded, Ctrl-C
checkpoints, and no process the run started is left afterwards (checked by PID).

One r2d2 run (module fixture, 2,000 steps, the replay in 2 shards, evaluation in the evaluator
process; at 300 steps a worker, a shard and the evaluator are killed) serves the first six
tests; an Agent57 run (1 replay shard) is interrupted by SIGINT and resumed. Each run starts its
own local Ray. The sharded replay's routing of items, keys and priorities, and what it does
when a shard dies, are checked in-process (no Ray).
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import Any

import pytest
import tiny_agents
from ray_helpers import LOOPBACK, Probe, agent_folder, alive, descendants

import agentos
from agentos.api import checkpoint_path, find_checkpoint
from agentos.runtime.checkpoint import load_checkpoint
from agentos.tracking.store import get_run, metric_history

# With `pytest -n 2` the Ray tests run one after another in one worker: two local Ray
# clusters at once would fight for the two cores and their timeouts.
pytestmark = pytest.mark.xdist_group("ray")

TINY_R2D2 = [*tiny_agents.TINY_R2D2, "loop.checkpoint_every=0"]
TINY_AGENT57 = [*tiny_agents.TINY_AGENT57, "loop.checkpoint_every=0"]
STEPS = 2000
KILL_AT = 300


@pytest.fixture(scope="module")
def r2d2_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Probe]:
    folder = agent_folder(tmp_path_factory.mktemp("ray"), "r2d2", "cartpole")
    before = {p.pid for p in descendants()}
    probe = Probe(KILL_AT, "kill_all")
    result = agentos.load_agent(folder, TINY_R2D2).learn(
        STEPS, seed=0, actors=2, hooks=probe, replay_shards=2
    )
    probe.pids -= before
    return folder, result, probe


def test_two_actors_learn_a_complete_tracked_run(r2d2_run) -> None:
    folder, result, _ = r2d2_run
    assert result.status == "FINISHED" and get_run(folder, result.run_id).recorded_status == (
        "FINISHED"
    )
    # 2 envs per worker divide 2,000, so the step budget is met exactly (a killed worker's
    # chunk is not counted and is acted again by the others)
    assert result.env_steps == STEPS
    # samples per insert 4, batch 4, min_replay_size 100: floor((2000 - 100) * 4 / 4) = 1900
    assert result.learner_updates == math.floor((STEPS - 100) * 4.0 / 4) == 1900
    state = load_checkpoint(checkpoint_path(folder, result.run_id))["loop"]
    counters = state["counters"]
    assert (counters["env_steps"], counters["episodes"]) == (STEPS, result.episodes)
    assert counters["learner_updates"] == 1900 and counters["evaluations"] == 1
    # CartPole episodes of a random-ish policy last ~10-40 steps: dozens end in 2,000 steps
    assert result.episodes > 20
    shards = state["components"]["replay"]["shards"]
    assert sum(s["next_key"] for s in shards) > 100  # sequences came from the workers
    assert len(result.eval_returns) == 2
    # the workers' episodes and the driver's learner both reached the run's metrics
    assert metric_history(folder, result.run_id, "train/episode_return")
    assert metric_history(folder, result.run_id, "train/loss")
    assert metric_history(folder, result.run_id, "train/env_steps")[-1] == (STEPS, float(STEPS))
    tags = get_run(folder, result.run_id).tags
    assert tags["agentos.layout"] == "ray" and tags["agentos.actors"] == "2"


def test_two_replay_shards_both_fill_and_the_checkpoint_holds_their_union(r2d2_run) -> None:
    folder, result, probe = r2d2_run
    assert len(probe.shards) == 2  # two ray::ReplayShard processes
    replay = load_checkpoint(checkpoint_path(folder, result.run_id))["loop"]["components"]["replay"]
    shards = replay["shards"]
    assert len(shards) == 2
    # worker 0 writes to shard 0, worker 1 to shard 1 (one sequence every actor.period=3
    # steps of each of 2 envs: ~660 in 2,000 steps). Shard 1 was killed at 300 steps and
    # replaced by an empty one, which filled again (its keys start from 0 again)
    assert all(s["next_key"] > 0 for s in shards), [(s["next_key"], s["size"]) for s in shards]
    assert sum(s["next_key"] for s in shards) > 200
    assert all(0 < s["size"] <= 64 for s in shards)  # capacity 64 each
    # the top level is shard 0's state (loadable by a plain replay); the union is both shards
    assert replay["next_key"] == shards[0]["next_key"] and replay["size"] == shards[0]["size"]
    assert (replay["keys"] == shards[0]["keys"]).all()
    union = sum(len(s["keys"]) for s in shards)
    assert union == sum(s["size"] for s in shards)


def test_the_evaluator_process_plays_the_driver_s_evaluation(r2d2_run) -> None:
    folder, result, probe = r2d2_run
    assert len(probe.evaluators) == 1  # one ray::EvaluationWorker process
    assert metric_history(folder, result.run_id, "eval/return_mean")[-1][0] == STEPS
    # `agentos run` evaluates the checkpoint's variables in one process with the same seed
    # (evaluation 0, seed 0) and the greedy policy: the same episodes, the same returns
    again = agentos.load_agent(folder, TINY_R2D2).run(2, seed=0)
    assert again.eval_returns == result.eval_returns


def test_ray_listens_on_loopback_only(r2d2_run) -> None:
    _, _, probe = r2d2_run
    names = " ".join(probe.listening)
    assert "gcs_server" in names and "raylet" in names and "ray::EnvironmentWorker" in names
    assert "ray::ReplayShard" in names and "ray::EvaluationWorker" in names
    outside = {k: v for k, v in probe.listening.items() if set(v) - LOOPBACK}
    assert not outside, outside


def test_a_killed_worker_shard_and_evaluator_are_replaced_and_recorded(r2d2_run) -> None:
    folder, result, probe = r2d2_run
    assert len(probe.workers) == 2
    tags = get_run(folder, result.run_id).tags
    for kind in ("actor", "replay_shard", "evaluator"):
        assert int(tags[f"agentos.{kind}_restarts"]) >= 1, kind
        assert metric_history(folder, result.run_id, f"train/{kind}_restarts")[-1][1] >= 1, kind


def test_no_process_of_the_run_is_left(r2d2_run) -> None:
    _, _, probe = r2d2_run
    assert len(probe.pids) >= 4  # gcs_server, raylet, the workers...
    assert not alive(probe.pids)


def test_agent57_ctrl_c_checkpoints_stops_everything_and_resumes(tmp_path: Path) -> None:
    folder = agent_folder(tmp_path, "agent57", "permuted_chain")
    before = {p.pid for p in descendants()}
    probe = Probe(150, "interrupt")
    with pytest.raises(KeyboardInterrupt):
        agentos.load_agent(folder, TINY_AGENT57).learn(5000, seed=1, actors=1, hooks=probe)
    assert probe.fired and not alive(probe.pids - before)
    run_id, ckpt = find_checkpoint(folder, "latest")
    assert get_run(folder, run_id).recorded_status == "KILLED"
    middle_state = load_checkpoint(ckpt)["loop"]
    middle = middle_state["counters"]
    middle_replay = middle_state["components"]["replay"]
    assert len(middle_replay["shards"]) == 1 and middle_replay["next_key"] > 0
    assert 150 <= middle["env_steps"] < 5000 and middle["learner_updates"] > 0
    # Agent57's actor-side metrics are computed in the worker and logged by the driver
    assert metric_history(folder, run_id, "train/intrinsic_reward")
    # the run's last step count is the checkpoint's (`runs` showed the last logged one)
    assert metric_history(folder, run_id, "train/env_steps")[-1][1] == middle["env_steps"]

    resumed = agentos.load_agent(folder, TINY_AGENT57).learn(
        middle["env_steps"] + 100, resume=True, actors=1
    )
    assert resumed.run_id == run_id and resumed.status == "FINISHED"
    assert resumed.env_steps == middle["env_steps"] + 100
    assert resumed.learner_updates == math.floor((resumed.env_steps - 100) * 4.0 / 4)
    # the shard got the checkpoint's replay back: its keys go on from there, not from 0
    final = load_checkpoint(checkpoint_path(folder, run_id))["loop"]["components"]["replay"]
    assert final["next_key"] > middle_replay["next_key"]


def test_cli_rejects_a_bad_layout(tmp_path: Path, cli) -> None:
    folder = agent_folder(tmp_path, "r2d2", "cartpole")
    code, out, err = cli("learn", "--actors", "-1", "--agent", folder)
    assert code == 2 and "--actors" in out + err
    code, out, err = cli("learn", "--address", "127.0.0.1:6379", "--agent", folder)
    assert code == 2 and "--actors" in out + err
    code, out, err = cli(
        "learn", "--actors", "1", "--address", f"127.0.0.1:{_free_port()}", "-a", folder
    )
    assert code == 2 and "cannot reach a Ray cluster" in out + err
    for port in ("99999", "0", "x1"):  # 99999 was "Connection refused"
        code, out, err = cli("learn", "--actors", "1", "--address", f"127.0.0.1:{port}",
                             "-a", folder)  # fmt: skip
        assert code == 2 and "not a number from 1 to 65535" in out + err
    code, out, err = cli("learn", "--actors", "1", "--replay-shards", "0", "--agent", folder)
    assert code == 2 and "--replay-shards" in out + err
    code, out, err = cli("learn", "--replay-shards", "2", "--agent", folder)
    assert code == 2 and "--actors" in out + err
    assert not list(folder.glob(".agentos/checkpoints/*"))  # no run started


def _free_port() -> int:
    """A local TCP port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _RecordingReplay:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def add_items(self, items: dict[str, Any], priorities: Any = None) -> None:
        self.calls.append(("add_items", {k: v.tolist() for k, v in items.items()}, priorities))

    def add(self, transition: Any) -> None:
        self.calls.append(("add", transition.action.tolist(), None))


def test_worker_writes_reach_the_replay_in_batches_and_in_order() -> None:
    import numpy as np

    from agentos.runtime.layouts.ray_layout import ReplayCollector, insert_writes
    from agentos.runtime.roles import Transition

    collector = ReplayCollector()
    keys = collector.add_items({"x": np.array([[1], [2]])})
    assert keys.tolist() == [-1, -1]  # the real keys only exist in the driver's replay
    collector.add_items({"x": np.array([[3]])})
    collector.add_items({"x": np.array([[4]])}, priorities=np.array([0.5]))
    zeros = np.zeros(2)
    collector.add(Transition(zeros, np.array([7, 8]), zeros, zeros, zeros, zeros))
    collector.add_items({"x": np.array([[5]])})
    writes = collector.pop()
    assert collector.pop() == []
    replay = _RecordingReplay()
    # 2 + 1 merged sequences, 1 with its own priority, 2 transitions, 1 sequence: 7 items
    assert insert_writes(replay, writes) == 7
    assert replay.calls == [
        ("add_items", {"x": [[1], [2], [3]]}, None),
        ("add_items", {"x": [[4]]}, np.array([0.5])),
        ("add", [7, 8], None),
        ("add_items", {"x": [[5]]}, None),
    ]


def test_check_layout_accepts_the_single_process_and_a_plain_count() -> None:
    from agentos.errors import AgentOSError
    from agentos.runtime.layouts.ray_layout import check_layout

    check_layout(0, None)
    check_layout(3, None)
    check_layout(3, None, 2)
    with pytest.raises(AgentOSError, match="HOST:PORT"):
        check_layout(1, "nowhere")
    with pytest.raises(AgentOSError, match="--replay-shards"):
        check_layout(2, None, 0)
    with pytest.raises(AgentOSError, match="--actors"):
        check_layout(0, None, 2)
    check_layout(2, None, 1, learner_actor=True)
    check_layout(2, None, 1, learner_gpu=True)
    with pytest.raises(AgentOSError, match="--learner-gpu puts the learner in a Ray process"):
        check_layout(0, None, 1, learner_gpu=True)
    with pytest.raises(AgentOSError, match="add --actors N, or leave out --learner-actor"):
        check_layout(0, None, 1, learner_actor=True)


class _LocalHandle:
    """A shard in this process behind Ray's call syntax: ``handle.method.remote(...)``."""

    def __init__(self, shard: Any):
        self.shard = shard

    def __getattr__(self, name: str) -> Any:
        return type("_Method", (), {"remote": staticmethod(getattr(self.shard, name))})


def _local_shards(num: int) -> tuple[list[Any], Any]:
    from agentos.replay.prioritized import PrioritizedSequenceReplay
    from agentos.runtime.layouts.replay_shards import ReplayShard, ShardedReplay
    from agentos.runtime.roles import BuildContext

    shards = []
    for index in range(num):
        shard = object.__new__(ReplayShard)  # without a spec: the replay is given directly
        shard.replay = PrioritizedSequenceReplay(
            PrioritizedSequenceReplay.Params(capacity=8),
            BuildContext(name=f"replay/{index}", seed=0, agent_dir=Path(".")),
        )
        shards.append(shard)
    return shards, ShardedReplay([_LocalHandle(s) for s in shards], get=lambda refs: refs)


def test_split_batch_is_proportional_to_shard_sizes() -> None:
    from agentos.runtime.layouts.replay_shards import split_batch

    assert split_batch(4, [30, 10]) == [3, 1]  # 4 * 30/40 = 3, 4 * 10/40 = 1
    # 5/3 = 1.67 each: floors 1, 1, 1 and the 2 left go to the first largest remainders
    assert split_batch(5, [1, 1, 1]) == [2, 2, 1]
    assert split_batch(4, [0, 8]) == [0, 4]  # an empty shard gives nothing
    with pytest.raises(ValueError, match="empty"):
        split_batch(4, [0, 0])


def test_sharded_replay_routes_items_keys_and_priorities() -> None:
    import numpy as np

    from agentos.runtime.layouts.ray_layout import ReplayCollector, insert_writes

    shards, replay = _local_shards(2)
    for worker, values in [(0, [0, 1, 2]), (1, [10]), (2, [3])]:  # worker 2 -> shard 2 mod 2
        collector = ReplayCollector()
        collector.add_items({"x": np.array([[v] for v in values], np.float32)})
        insert_writes(replay.inserter(worker), collector.pop())
    assert [len(s.replay) for s in shards] == [4, 1] and len(replay) == 5
    # shard 0 holds x = 0, 1, 2, 3 under its keys 0..3, shard 1 holds x = 10 under key 0;
    # a global key is local * 2 + shard
    value = {0 * 2 + 0: 0, 1 * 2 + 0: 1, 2 * 2 + 0: 2, 3 * 2 + 0: 3, 0 * 2 + 1: 10}
    batch = replay.sample(5)  # 5 * 4/5 = 4 from shard 0, 5 * 1/5 = 1 from shard 1
    assert batch.keys.shape == (5,) and batch.weights.shape == (5,)
    assert sorted(batch.keys % 2) == [0, 0, 0, 0, 1]
    assert [value[k] for k in batch.keys.tolist()] == batch.items["x"][:, 0].tolist()
    # global key 1 = shard 1 key 0; global key 2 = shard 0 key 1
    replay.update_priorities(np.array([1, 2]), np.array([5.0, 3.0]))
    assert shards[1].replay.get_priorities(np.array([0])).tolist() == [5.0]
    assert shards[0].replay.get_priorities(np.array([0, 1])).tolist() == [1.0, 3.0]


def test_sharded_replay_state_is_the_union_and_restores() -> None:
    import numpy as np

    from agentos.errors import ParameterError

    shards, replay = _local_shards(2)
    replay.inserter(0).add_items({"x": np.array([[1.0], [2.0]], np.float32)})
    replay.inserter(1).add_items({"x": np.array([[7.0]], np.float32)})
    state = replay.state_dict()
    assert state["size"] == 2 and len(state["shards"]) == 2  # top level: shard 0
    union = np.concatenate([s["contents"]["x"][:, 0] for s in state["shards"]])
    assert sorted(union.tolist()) == [1.0, 2.0, 7.0]

    fresh_shards, fresh = _local_shards(2)
    fresh.load_state_dict(state)
    assert [len(s.replay) for s in fresh_shards] == [2, 1]
    _, three = _local_shards(3)
    with pytest.raises(ParameterError, match="--replay-shards 2"):
        three.load_state_dict(state)
    # a plain (one-process) replay state goes to shard 0, the others start empty
    plain = shards[0].replay.state_dict()
    fresh_shards, fresh = _local_shards(2)
    fresh.load_state_dict(plain)
    assert [len(s.replay) for s in fresh_shards] == [2, 0]


class _Died(Exception):
    """Stands in for Ray's RayActorError."""


_NO_ANSWER = object()


class _DyingHandle(_LocalHandle):
    """A shard that answers ``size`` and then dies: every other call gets no answer."""

    def __getattr__(self, name: str) -> Any:
        if name == "size":
            return super().__getattr__(name)
        return type("_Method", (), {"remote": staticmethod(lambda *a, **k: _NO_ANSWER)})


def _get_or_die(ref: Any) -> Any:
    if ref is _NO_ANSWER:
        raise _Died()
    return ref


def _filled_shards(num: int, per_shard: int) -> list[Any]:
    import numpy as np

    shards, _ = _local_shards(num)
    for index, shard in enumerate(shards):
        shard.add_items({"x": np.full((per_shard, 1), 10.0 * index, np.float32)})
    return shards


def test_a_shard_that_dies_while_sampled_is_replaced_and_the_batch_stays_whole() -> None:
    import numpy as np

    from agentos.runtime.layouts.replay_shards import ShardedReplay

    shards = _filled_shards(2, 4)
    (spare,) = _local_shards(1)[0]
    replaced: list[int] = []

    def replace(index: int) -> Any:
        replaced.append(index)
        return _LocalHandle(spare)

    replay = ShardedReplay(
        [_LocalHandle(shards[0]), _DyingHandle(shards[1])], _get_or_die, _Died, replace
    )
    # sizes say 4 + 4, so 2 are asked of each; shard 1 dies, is replaced by an empty shard,
    # and the whole batch of 4 is drawn again, all from shard 0
    batch = replay.sample(4)
    assert replaced == [1]
    assert batch.keys.shape == (4,) and (batch.keys % 2 == 0).all()
    assert (batch.items["x"] == 0.0).all()
    replay.inserter(1).add_items({"x": np.ones((3, 1), np.float32)})  # worker 1's next items
    assert len(spare.replay) == 3 and replay.sizes() == [4, 3]
    assert replay.state_dict()["shards"][1]["size"] == 3


def test_without_replace_a_dead_shard_is_left_out_until_the_handles_are_set() -> None:
    import numpy as np

    from agentos.runtime.layouts.replay_shards import ShardedReplay

    shards = _filled_shards(2, 4)
    replay = ShardedReplay([_LocalHandle(shards[0]), _DyingHandle(shards[1])], _get_or_die, _Died)
    batch = replay.sample(4)  # the learner process's proxy: shard 1 is left out, not replaced
    assert replay.left_out == {1} and (batch.keys % 2 == 0).all()
    assert replay.sizes() == [4, 0]
    replay.update_priorities(np.array([0, 1]), np.array([2.0, 2.0]))  # key 1 is shard 1's: dropped
    assert shards[0].replay.get_priorities(np.array([0])).tolist() == [2.0]
    replay.handles = [_LocalHandle(shards[0]), _LocalHandle(shards[1])]  # the driver's new ones
    assert replay.left_out == set() and len(replay) == 8
