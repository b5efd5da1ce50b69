"""Parity of the componentized Agent57 with a reference written from the papers
(``reference_agent57.py``, ``reference_agent57_actor.py``, ``reference_agent57_learner.py``).

The componentized agent is built from a real agent folder (``agentos init`` + ``install agent57
cartpole``, tiny sizes as ``-p`` overrides) through the component graph and trained by the
agentos ``Loop`` on CartPole for a few hundred env steps, with learner updates interleaved and
the actor synced after each. The reference does the same from scratch, fed the same seeds
(network init key, exploration and meta-controller Generator seeds, environment reset seed)
and, for each update, the same sampled replay keys. Compared:

(a) initial variables (both Q-networks, embedding + inverse dynamics, RND, RND's input
    statistics), then at every step the observations, the arm of each copy and the actions
    (exact), and the novelty of each step: episodic reward, RND alpha, intrinsic reward;
(b) every sequence inserted into replay against the reference's own cut: observation, action,
    discount, prev_action, mask, arm exactly, rewards and prev_rewards [r_e, r_i], mu and the
    stored LSTM states of both heads to a tolerance;
(c) every learner update: when it happens, the importance weights, the losses of both heads,
    the IDM and RND losses, the new priorities, all variables after the update (both
    Q-networks, embedding, RND predictor and target, RND's input statistics), the target
    Q-networks, and the whole priority table at the end.

Planted errors in the reference must break parity (``test_planted_error_breaks_parity``):
f(x_0) left out of the episodic memory changes the intrinsic reward of each episode's first
step; a wrong discount for arm 0 keeps (a) and (b) up to the first update and changes its loss;
an intrinsic head that ends at terminations (the bundle's bootstraps through them) changes the
loss of the first update that samples a terminated episode; the other choice of bootstrapping
the extrinsic head at a time limit changes the loss of one that samples a truncated episode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from . import reference_agent57 as ref
from . import reference_agent57_actor as ref_actor

SEED = 3
TOTAL_STEPS = 200
OVERRIDES = [
    "loop.overlap_learning=false",  # the reference waits for each update
    "environment.num_envs=2",
    "environment.max_episode_steps=14",  # short time limit: truncated episodes too
    "network.hidden_sizes=[16]",
    "network.lstm_size=8",
    "network.head_hidden=8",
    "network.num_arms=4",
    "network.gamma_max=0.997",  # above the intrinsic cap of 0.99, whatever the bundle's
    "network.gamma_mid=0.95",  # distinct discounts per arm (NGU ladder, 4 arms)
    "network.gamma_min=0.9",
    "network.embedding_hidden=[16]",
    "network.embedding_dim=8",
    "network.rnd_hidden=[16]",
    "network.rnd_output=8",
    "actor.burn_in=2",
    "actor.trace_length=6",
    "actor.period=3",
    "actor.episodic_capacity=12",  # episodes of up to 15 observations wrap the memory
    "actor.num_neighbours=5",
    "actor.bandit_window=6",
    "replay.capacity=10000",  # no eviction: replay key = insertion number
    "learner.learning_rate=0.001",
    "learner.adam_eps=0.001",
    "learner.novelty_learning_rate=0.001",
    "learner.max_grad_norm=1.0",
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
EXACT_FIELDS = ("observation", "action", "discount", "prev_action", "mask", "arm")
CLOSE_FIELDS = ("reward", "prev_reward", "mu", "lstm_h", "lstm_c")
NOVELTY_INFO = {  # what the component's step_info calls the parts of the intrinsic reward
    "episodic": "episodic_reward",
    "alpha": "rnd_alpha",
    "intrinsic": "intrinsic_reward",
}


def numpy_tree(tree):
    return jax.tree_util.tree_map(lambda x: np.array(x), tree)


@dataclasses.dataclass
class ComponentRun:
    """What the componentized agent did, recorded through thin wrappers."""

    graph: object
    built: object
    env_seed: int | None = None
    actions: list = dataclasses.field(default_factory=list)
    observations: list = dataclasses.field(default_factory=list)
    arms: list = dataclasses.field(default_factory=list)
    novelty: list = dataclasses.field(default_factory=list)
    samples: list = dataclasses.field(default_factory=list)
    updates: list = dataclasses.field(default_factory=list)
    contents: dict | None = None
    final_priorities: np.ndarray | None = None


def run_component(agent_root: Path) -> ComponentRun:
    from agentos.cli.init_cmd import init
    from agentos.components.graph import load_graph
    from agentos.components.install import install
    from agentos.components.spec import load_spec
    from agentos.runtime.loop import Loop

    init(agent_root, None, False)
    install(agent_root, ["agent57", "cartpole"], [])
    graph = load_graph(load_spec(agent_root), OVERRIDES)
    built = graph.build(SEED)
    env, replay, actor, learner = (
        built.one(r) for r in ("environment", "replay", "actor", "learner")
    )
    rec = ComponentRun(graph=graph, built=built)
    env_reset, env_step, replay_sample = env.reset, env.step, replay.sample
    select_action, observe, learner_step = actor.select_action, actor.observe, learner.step

    def reset(seed=None):
        rec.env_seed = seed
        return env_reset(seed=seed)

    def step(action):
        rec.actions.append(np.array(action))
        return env_step(action)

    def act(observation, extras, *, explore, env_steps):
        out = select_action(observation, extras, explore=explore, env_steps=env_steps)
        if explore:
            rec.observations.append(np.array(observation))
            rec.arms.append(np.array(actor.step_info()["arm"]))
        return out

    def observed(transition):
        result = observe(transition)
        info = actor.step_info()
        rec.novelty.append({k: np.array(info[v]) for k, v in NOVELTY_INFO.items()})
        return result

    def sample(batch_size=None):
        batch = replay_sample(batch_size)
        rec.samples.append(
            {"keys": batch.keys.copy(), "weights": batch.weights.copy(), "acted": len(rec.actions)}
        )
        return batch

    def learn(num_updates=1):
        assert num_updates == 1, "two updates in one call"
        metrics = learner_step(num_updates)
        keys = rec.samples[-1]["keys"]
        rec.updates.append(
            {
                "acted": len(rec.actions),
                "metrics": metrics,
                "priorities": replay.get_priorities(keys),
                "variables": numpy_tree(learner.get_variables()),
                "target_q": numpy_tree(learner.state.target_params),
            }
        )
        return metrics

    env.reset, env.step, replay.sample = reset, step, sample
    actor.select_action, actor.observe, learner.step = act, observed, learn
    loop = Loop(
        environment=env,
        actor=actor,
        learner=learner,
        params=graph.loop,
        make_eval_env=lambda: graph.build_one("environment", SEED, "/eval"),
        seed=SEED,
        components=built.components,
    )
    try:
        loop.learn(TOTAL_STEPS)
    finally:
        loop.close()
    rec.contents = replay.state_dict()["contents"]
    rec.final_priorities = replay.get_priorities(np.arange(len(replay)))
    return rec


def reference_config(graph, **changes) -> ref.Config:
    """The component parameters, as the reference's config (the same inputs)."""
    p = graph.full_params()
    sources = [p[k] for k in ("loop", "replay", "network", "actor", "learner")]
    same = {  # by name; the learner's batch_size (last) wins over the replay's default
        f.name: tuple(s[f.name]) if isinstance(s[f.name], list) else s[f.name]
        for f in dataclasses.fields(ref.Config)
        for s in sources
        if f.name in s
    }
    # What the components do not take as parameters: the copies, the IDM's hidden width
    # (128, NGU) and the planted errors.
    unset = {f.name for f in dataclasses.fields(ref.Config)} - set(same)
    planted = {"memory_holds_x0", "planted_arm0_gamma", "burn_in_padding_skipped"}
    assert unset == {"num_envs", "idm_hidden", *planted}, unset
    net, actor = p["network"], p["actor"]
    assert actor["epsilon"] is None and net["value_rescaling"] and net["torso"] in ("auto", "mlp")
    cfg = ref.Config(**same, num_envs=p["environment"]["num_envs"])
    return dataclasses.replace(cfg, **changes)


def run_reference(comp: ComponentRun, **changes) -> ref_actor.ReferenceRun:
    max_updates = changes.pop("max_updates", None)
    actor = comp.built.one("actor")
    return ref_actor.run(
        reference_config(comp.graph, **changes),
        env_id="CartPole-v1",
        max_episode_steps=comp.graph.full_params()["environment"]["max_episode_steps"],
        init_seed=comp.built.one("network").context.component_seed("init"),
        explore_seed=actor.context.component_seed("explore"),
        meta_seed=actor.context.component_seed("meta"),
        env_seed=comp.env_seed,
        total_steps=TOTAL_STEPS,
        sampled_indices=[s["keys"] for s in comp.samples],
        max_updates=max_updates,
    )


def max_abs_diff(a, b) -> float:
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb, f"variable trees differ:\n{ta}\n{tb}"
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in zip(la, lb, strict=True)
    )


@pytest.fixture(scope="module")
def component(tmp_path_factory) -> ComponentRun:
    rec = run_component(tmp_path_factory.mktemp("parity") / "agent")
    yield rec
    rec.built.close()


@pytest.fixture(scope="module")
def reference(component) -> ref_actor.ReferenceRun:
    return run_reference(component)


# --------------------------------------------------------------------------- the checks


def check_acting(comp: ComponentRun, mine: ref_actor.ReferenceRun, steps: int | None = None):
    """(a): observations, arms and actions exactly, novelty to 1e-4, for ``steps`` steps."""
    steps = len(comp.actions) if steps is None else steps
    assert len(mine.actions) >= steps
    for name, theirs, ours in (
        ("observation", comp.observations, mine.observations),
        ("arm", comp.arms, mine.arms),
        ("action", comp.actions, mine.actions),
    ):
        np.testing.assert_array_equal(
            np.stack(theirs[:steps]), np.stack(ours[:steps]).astype(theirs[0].dtype), err_msg=name
        )
    for key in ("episodic", "alpha", "intrinsic"):
        theirs = np.stack([n[key] for n in comp.novelty[:steps]])
        ours = np.stack([n[key] for n in mine.novelty[:steps]])
        np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5, err_msg=key)


def check_sequences(contents: dict, mine: ref_actor.ReferenceRun, count: int | None = None):
    """(b): the first ``count`` sequences in replay against the reference's."""
    count = len(contents["action"]) if count is None else count
    assert len(mine.sequences) >= count >= 1
    for key in EXACT_FIELDS + CLOSE_FIELDS:
        ours = np.stack([s[key] for s in mine.sequences[:count]])
        theirs = contents[key][:count]
        if key in EXACT_FIELDS:
            np.testing.assert_array_equal(theirs, ours.astype(theirs.dtype), err_msg=key)
        else:
            np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-5, err_msg=key)


def check_update(u: int, comp: ComponentRun, mine: ref_actor.ReferenceRun):
    """(c) for update ``u``."""
    where = f"update {u + 1}"
    ours, theirs, sampled = mine.updates[u], comp.updates[u], comp.samples[u]
    assert ours["env_steps"] == len(comp.actions[0]) * sampled["acted"], where
    np.testing.assert_allclose(sampled["weights"], ours["weights"], atol=1e-5, err_msg=where)
    for key in ("loss", "loss_extrinsic", "loss_intrinsic", "idm_loss", "rnd_loss"):
        np.testing.assert_allclose(
            theirs["metrics"][key], ours["metrics"][key], rtol=1e-4, atol=1e-6,
            err_msg=f"{where}: {key}",
        )  # fmt: skip
    np.testing.assert_allclose(
        theirs["priorities"], ours["priorities"], rtol=1e-4, atol=1e-6, err_msg=where
    )
    for part in ("q", "embedding", "rnd", "rnd_obs"):
        diff = max_abs_diff(theirs["variables"][part], ours["variables"][part])
        assert diff < 2e-5, f"{where}: {part} differs by {diff}"
    assert max_abs_diff(theirs["target_q"], ours["target_q"]) < 2e-5, where


# --------------------------------------------------------------------------- the tests


def test_the_run_covers_the_interesting_cases(component, reference):
    assert reference.episodes_terminated >= 1 and reference.episodes_truncated >= 1
    assert len(component.updates) >= 8  # learning, with target copies every 2 updates
    assert len(component.actions) - component.samples[0]["acted"] >= 10  # acting after syncs
    assert set(np.concatenate(component.arms).tolist()) == {0, 1, 2, 3}  # the whole ladder
    bandits = component.built.one("actor").meta.bandits
    assert max(b.num_selected for b in bandits) > 6 + 4  # past round robin, the window slid
    keys = np.concatenate([s["keys"] for s in component.samples])
    sampled_arms = component.contents["arm"][keys, 0]
    assert 0 in sampled_arms and len(set(sampled_arms.tolist())) >= 3
    assert reference.longest_episode > 12  # an episodic memory was full and wrapped
    alpha = np.concatenate([n["alpha"] for n in component.novelty])
    assert (alpha > 1).any() and (alpha == 1).any()  # RND modulation above and at its clip


def test_same_initial_variables(component, reference):
    network = component.built.one("network")
    diff = max_abs_diff(numpy_tree(network.initial_params()), reference.initial_variables)
    assert diff == 0.0


def test_same_observations_arms_actions_and_intrinsic_rewards(component, reference):
    assert len(reference.actions) == len(component.actions)
    check_acting(component, reference)


def test_same_sequences_in_replay(component, reference):
    assert len(component.contents["action"]) == len(reference.sequences)
    check_sequences(component.contents, reference)


def test_same_losses_priorities_and_variables_after_each_update(component, reference):
    assert len(reference.updates) == len(component.updates)
    for u in range(len(component.updates)):
        check_update(u, component, reference)
    np.testing.assert_allclose(
        component.final_priorities, reference.final_priorities, rtol=1e-4, atol=1e-6
    )


@pytest.mark.parametrize(
    "planted",
    [
        "x0_not_in_memory",
        "wrong_arm0_gamma",
        "episodic_intrinsic",
        "other_traces",
        "other_intrinsic_discount",
        "other_time_limits",
        "burn_in_over_padding",
        "other_intrinsic_reward_input",
    ],
)
def test_planted_error_breaks_parity(component, planted):
    if planted == "x0_not_in_memory":
        # x_1 of every episode is scored against an empty memory (NGU's formula: sum K = 0,
        # r = 1 / c = 1000) instead of f(x_0): the first step's novelty already differs, and
        # the stored sequences (intrinsic rewards, then the trajectory) with it.
        planted_run = run_reference(component, memory_holds_x0=False, max_updates=1)
        print("planted x0: first episodic rewards", planted_run.novelty[0]["episodic"],
              "component", component.novelty[0]["episodic"])  # fmt: skip
        with pytest.raises(AssertionError, match="episodic"):
            check_acting(component, planted_run, steps=1)
        with pytest.raises(AssertionError):
            check_sequences(component.contents, planted_run, count=len(planted_run.sequences))
    elif planted == "other_traces":
        # Retrace and Peng's Q(lambda) differ wherever an action left the greedy policy; the
        # run's epsilon-greedy copies take such actions, so some update's loss differs.
        traces = component.graph.full_params()["learner"]["traces"]
        planted_run = run_reference(component, traces="retrace" if "peng" in traces else "peng")
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
    elif planted == "other_intrinsic_discount":
        # The intrinsic head's gamma is min(gamma_j, intrinsic_discount); another cap (the
        # paper's gamma_j when the bundle caps it, 0.99 otherwise) changes every arm whose
        # gamma_j is above 0.99, so the first update's intrinsic loss differs.
        cap = component.graph.full_params()["learner"]["intrinsic_discount"]
        planted_run = run_reference(component, intrinsic_discount=None if cap else 0.99)
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
    elif planted == "burn_in_over_padding":
        # An episode's first sequence unrolled over its burn-in padding starts its trace from
        # another state than x_0's: the first update that samples one has another loss.
        planted_run = run_reference(component, burn_in_padding_skipped=False)
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
    elif planted == "other_time_limits":
        # Bootstrapping the extrinsic head at a time limit, or not, changes the loss of the
        # first update that samples a truncated episode's last step (the run has some).
        limits = component.graph.full_params()["learner"]["extrinsic_time_limits"]
        other = "bootstrap" if limits == "end" else "end"
        planted_run = run_reference(component, extrinsic_time_limits=other)
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
    elif planted == "other_intrinsic_reward_input":
        # Whether the extrinsic network sees the previous intrinsic reward (> 0 from an
        # episode's second step on) changes its LSTM state, which every stored sequence holds.
        setting = component.graph.full_params()["network"]["intrinsic_reward_input"]
        other = "both_heads" if setting == "intrinsic_head" else "intrinsic_head"
        planted_run = run_reference(component, intrinsic_reward_input=other, max_updates=1)
        with pytest.raises(AssertionError):
            check_sequences(component.contents, planted_run, count=len(planted_run.sequences))
    elif planted == "episodic_intrinsic":
        # The bundle's intrinsic head bootstraps through terminations (non-episodic); a
        # reference whose intrinsic values end there acts and stores the same until the first
        # update that samples a terminated episode, whose intrinsic loss differs.
        assert component.graph.full_params()["learner"]["non_episodic_intrinsic"]
        planted_run = run_reference(component, non_episodic_intrinsic=False)
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
    else:
        # DRLearner's ladder: the exploitative arm 0 discounts with the smallest gamma. Acting
        # and sequences do not see gamma; the loss of the first update that samples an arm-0
        # sequence does (the run samples one: test_the_run_covers_the_interesting_cases).
        gamma_min = component.graph.full_params()["network"]["gamma_min"]
        planted_run = run_reference(component, planted_arm0_gamma=gamma_min)
        check_acting(component, planted_run, steps=component.samples[0]["acted"])
        with pytest.raises(AssertionError, match="loss"):
            for i in range(len(component.updates)):
                check_update(i, component, planted_run)
