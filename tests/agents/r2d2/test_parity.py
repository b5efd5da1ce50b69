"""Parity of the componentized R2D2 with a single-file reference (``reference_r2d2.py``).

The componentized agent is built from a real agent folder (``agentos init`` + ``install r2d2
cartpole``, tiny sizes as ``-p`` overrides) through the component graph and trained by the
agentos ``Loop`` on CartPole for a few hundred env steps, with learner updates interleaved and
the actor synced after each. The reference does the same from scratch, fed the same seeds
(network init key, exploration Generator seed, environment reset seed) and, for each update,
the same sampled replay keys. Compared:

(a) initial parameters (leaf by leaf, exact), observations and actions at every step (exact),
    including the steps acted after each parameter sync;
(b) every sequence the component adder inserted into replay against the reference's own cut:
    observation, action, reward, discount, prev_action, prev_reward, mask exactly, mu to
    1e-6, the stored start state lstm_h / lstm_c to 1e-5;
(c) every learner update: when it happens (env steps), the importance weights (1e-5), loss,
    mean Q, the new priorities written back to replay (rtol 1e-5, atol 1e-6), online and
    target parameters after the update (atol 1e-5), and the whole priority table at the end.

A planted off-by-one in the reference (``reward_shift=1``: Q(x_t, a_t) paired with r_{t+2},
the DRLearner bug) keeps (a) and (b) identical but breaks (c): the first loss differs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from . import reference_r2d2 as ref

SEED = 3
TOTAL_STEPS = 160
OVERRIDES = [
    "loop.overlap_learning=false",  # the reference waits for each update
    "environment.num_envs=2",
    "environment.max_episode_steps=20",  # short time limit: truncated episodes too
    "network.hidden_sizes=[16]",
    "network.lstm_size=8",
    "network.head_hidden=8",
    "actor.burn_in=2",
    "actor.trace_length=6",
    "actor.period=3",
    "replay.capacity=10000",  # no eviction: replay key = insertion number
    "learner.n_step=2",
    "learner.discount=0.99",
    "learner.learning_rate=0.001",
    "learner.adam_eps=0.001",
    "learner.max_grad_norm=0.5",
    "learner.target_update_period=2",
    "learner.batch_size=8",
    # one update every 8 env steps (never two in one loop iteration) from 112 steps on
    "loop.samples_per_insert=1.0",
    "loop.min_replay_size=112",
    "loop.learn_every=2",
    "loop.log_every=2",
    "loop.eval_every=0",
    "loop.checkpoint_every=0",
    "loop.eval_episodes=1",
]
STEP_FIELDS = ("observation", "action", "reward", "discount", "prev_action", "prev_reward", "mask")


def numpy_tree(tree):
    return jax.tree_util.tree_map(lambda x: np.array(x), tree)


@dataclasses.dataclass
class ComponentRun:
    """What the componentized agent did, recorded through thin wrappers and the loop's hooks."""

    graph: object
    built: object
    env_seed: int | None = None
    actions: list = dataclasses.field(default_factory=list)
    observations: list = dataclasses.field(default_factory=list)
    samples: list = dataclasses.field(default_factory=list)
    updates: list = dataclasses.field(default_factory=list)
    contents: dict | None = None
    final_priorities: np.ndarray | None = None


def run_component(agent_root: Path) -> ComponentRun:
    from agentos.cli.init_cmd import init
    from agentos.components.graph import load_graph
    from agentos.components.install import install
    from agentos.components.spec import load_spec
    from agentos.runtime.loop import Hooks, Loop

    init(agent_root, None, False)
    install(agent_root, ["r2d2", "cartpole"], [])
    graph = load_graph(load_spec(agent_root), OVERRIDES)
    built = graph.build(SEED)
    env, replay, learner = (built.one(r) for r in ("environment", "replay", "learner"))
    rec = ComponentRun(graph=graph, built=built)

    env_reset, env_step, replay_sample = env.reset, env.step, replay.sample

    def reset(seed=None):
        rec.env_seed = seed
        obs = env_reset(seed=seed)
        rec.observations.append(np.array(obs))
        return obs

    def step(action):
        rec.actions.append(np.array(action))
        result = env_step(action)
        rec.observations.append(np.array(result.observation))
        return result

    def sample(batch_size=None):
        batch = replay_sample(batch_size)
        rec.samples.append(
            {"keys": batch.keys.copy(), "weights": batch.weights.copy(), "acted": len(rec.actions)}
        )
        return batch

    env.reset, env.step, replay.sample = reset, step, sample

    class Record(Hooks):
        def on_metrics(self, metrics, step):
            if "train/loss" not in metrics:
                return
            assert learner.num_updates == len(rec.updates) + 1, "two updates in one call"
            keys = rec.samples[-1]["keys"]
            rec.updates.append(
                {
                    "env_steps": step,
                    "loss": metrics["train/loss"],
                    "q_mean": metrics["train/q_mean"],
                    "priorities": replay.get_priorities(keys),
                    "params": numpy_tree(learner.get_variables()),
                    "target_params": numpy_tree(learner.state.target_params),
                }
            )

    loop = Loop(
        environment=env,
        actor=built.one("actor"),
        learner=learner,
        params=graph.loop,
        make_eval_env=lambda: graph.build_one("environment", SEED, "/eval"),
        seed=SEED,
        hooks=Record(),
        components=built.components,
    )
    try:
        loop.learn(TOTAL_STEPS)
    finally:
        loop.close()
    rec.observations = rec.observations[: len(rec.actions)]  # the ones acted on
    rec.contents = replay.state_dict()["contents"]
    rec.final_priorities = replay.get_priorities(np.arange(len(replay)))
    return rec


def reference_config(graph, **changes) -> ref.Config:
    """The component parameters, as the reference's config (the same inputs)."""
    p = graph.full_params()
    env, net, actor, learner = p["environment"], p["network"], p["actor"], p["learner"]
    replay, loop = p["replay"], p["loop"]
    cfg = ref.Config(
        num_envs=env["num_envs"],
        epsilon_base=actor["epsilon_base"],
        epsilon_alpha=actor["epsilon_alpha"],
        hidden_sizes=tuple(net["hidden_sizes"]),
        lstm_size=net["lstm_size"],
        head_hidden=net["head_hidden"],
        burn_in=actor["burn_in"],
        trace_length=actor["trace_length"],
        period=actor["period"],
        n_step=learner["n_step"],
        discount=learner["discount"],
        learning_rate=learner["learning_rate"],
        adam_eps=learner["adam_eps"],
        max_grad_norm=learner["max_grad_norm"],
        target_update_period=learner["target_update_period"],
        priority_eta=learner["priority_eta"],
        priority_exponent=replay["priority_exponent"],
        importance_sampling_exponent=replay["importance_sampling_exponent"],
        batch_size=learner["batch_size"],
        samples_per_insert=loop["samples_per_insert"],
        min_replay_size=loop["min_replay_size"],
        learn_every=loop["learn_every"],
    )
    assert actor["epsilon"] is None and learner["loss"] == "n_step" and learner["value_rescaling"]
    return dataclasses.replace(cfg, **changes)


def run_reference(comp: ComponentRun, **changes) -> ref.ReferenceRun:
    max_updates = changes.pop("max_updates", None)
    built = comp.built
    return ref.run(
        reference_config(comp.graph, **changes),
        env_id="CartPole-v1",
        max_episode_steps=comp.graph.full_params()["environment"]["max_episode_steps"],
        init_seed=built.one("network").context.component_seed("init"),
        explore_seed=built.one("actor").context.component_seed("explore"),
        env_seed=comp.env_seed,
        total_steps=TOTAL_STEPS,
        sampled_indices=[s["keys"] for s in comp.samples],
        max_updates=max_updates,
    )


def max_abs_diff(a, b) -> float:
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb, f"parameter trees differ:\n{ta}\n{tb}"
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(la, lb, strict=True)
    )


@pytest.fixture(scope="module")
def component(tmp_path_factory) -> ComponentRun:
    rec = run_component(tmp_path_factory.mktemp("parity") / "agent")
    yield rec
    rec.built.close()


@pytest.fixture(scope="module")
def reference(component) -> ref.ReferenceRun:
    return run_reference(component)


def episode_end_kind(contents: dict, i: int, burn_in: int, n_step: int) -> str:
    """How sequence ``i`` ends: ``full`` (no episode end), ``terminated`` / ``truncated`` when
    its trace holds the final observation at a step where the last action has a target
    (where the n-step bootstrap at an episode's end matters), else ``other``."""
    mask = contents["mask"][i, burn_in:]
    if mask.min() > 0:
        return "full"
    end = int(np.argmax(mask <= 0))
    if not 1 <= end <= len(mask) - n_step:
        return "other"
    return "truncated" if contents["discount"][i, burn_in + end] > 0 else "terminated"


def test_the_run_covers_the_interesting_cases(component, reference):
    assert reference.episodes_terminated >= 1 and reference.episodes_truncated >= 1
    assert reference.sequences_padded >= 1  # episode ends inside sequences
    assert len(component.updates) >= 5  # learning, with target copies every 2 updates
    first_update_iteration = component.samples[0]["acted"]
    assert len(component.actions) - first_update_iteration >= 10  # acting after syncs
    params = component.graph.full_params()["learner"]
    sampled = {
        episode_end_kind(component.contents, int(k), params["burn_in"], params["n_step"])
        for s in component.samples
        for k in s["keys"]
    }
    assert {"full", "terminated", "truncated"} <= sampled  # the losses see all three


def test_same_initial_parameters_and_actions(component, reference):
    network = component.built.one("network")
    assert max_abs_diff(numpy_tree(network.initial_params()), reference.initial_params) == 0.0
    assert len(reference.actions) == len(component.actions)
    np.testing.assert_array_equal(
        np.stack(reference.observations), np.stack(component.observations)
    )
    np.testing.assert_array_equal(np.stack(reference.actions), np.stack(component.actions))


def test_same_sequences_in_replay(component, reference):
    contents = component.contents
    assert len(contents["action"]) == len(reference.sequences)
    for key in STEP_FIELDS:
        mine = np.stack([s[key] for s in reference.sequences])
        np.testing.assert_array_equal(contents[key], mine.astype(contents[key].dtype), err_msg=key)
    mu = np.stack([s["mu"] for s in reference.sequences])
    np.testing.assert_allclose(contents["mu"], mu, rtol=0, atol=1e-6, err_msg="mu")
    for key in ("lstm_h", "lstm_c"):
        mine = np.stack([s[key] for s in reference.sequences])
        np.testing.assert_allclose(contents[key], mine, rtol=0, atol=1e-5, err_msg=key)


def test_same_losses_priorities_and_parameters_after_each_update(component, reference):
    assert len(reference.updates) == len(component.updates)
    for u, (mine, theirs, sampled) in enumerate(
        zip(reference.updates, component.updates, component.samples, strict=True)
    ):
        where = f"update {u + 1}"
        assert mine["env_steps"] == theirs["env_steps"], where
        np.testing.assert_allclose(sampled["weights"], mine["weights"], atol=1e-5, err_msg=where)
        np.testing.assert_allclose(
            theirs["loss"], mine["loss"], rtol=1e-5, atol=1e-6, err_msg=where
        )
        np.testing.assert_allclose(theirs["q_mean"], mine["q_mean"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            theirs["priorities"], mine["priorities"], rtol=1e-5, atol=1e-6, err_msg=where
        )
        assert max_abs_diff(theirs["params"], mine["params"]) < 1e-5, where
        assert max_abs_diff(theirs["target_params"], mine["target_params"]) < 1e-5, where
    np.testing.assert_allclose(
        component.final_priorities, reference.final_priorities, rtol=1e-5, atol=1e-6
    )


def test_planted_reward_off_by_one_breaks_parity(component):
    """Q(x_t, a_t) paired with r_{t+2} (DRLearner's bug): acting and sequences still agree up
    to the first update, the loss of that update does not."""
    planted = run_reference(component, reward_shift=1, max_updates=1)
    acted = len(planted.actions)
    np.testing.assert_array_equal(np.stack(planted.actions), np.stack(component.actions[:acted]))
    assert len(planted.sequences) >= 1
    for key in STEP_FIELDS:
        mine = np.stack([s[key] for s in planted.sequences])
        stored = component.contents[key][: len(mine)]
        np.testing.assert_array_equal(stored, mine.astype(stored.dtype))
    mine, theirs = planted.updates[0], component.updates[0]
    loss_diff = abs(mine["loss"] - theirs["loss"])
    priority_diff = float(np.max(np.abs(mine["priorities"] - theirs["priorities"])))
    param_diff = max_abs_diff(theirs["params"], mine["params"])
    print(
        f"planted reward_shift=1: loss {theirs['loss']:.6f} (component) vs {mine['loss']:.6f} "
        f"(reference), |diff| {loss_diff:.3g}; max |priority diff| {priority_diff:.3g}; "
        f"max |param diff| after 1 update {param_diff:.3g}"
    )
    assert loss_diff > 1e-3 * max(1.0, abs(theirs["loss"]))
    assert priority_diff > 1e-3
    assert param_diff > 1e-5
