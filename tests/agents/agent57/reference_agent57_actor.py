"""The acting side and the run of the reference Agent57: Ape-X epsilon-greedy on
the combined values, the meta-controller's bandits, NGU's episodic memory and RND modulation,
the sequences, and ``run``, which acts on gymnasium copies and calls the learner of
``reference_agent57_learner.py`` at the replay ratio. The config, networks and the papers'
equations are described in ``reference_agent57.py``.

Order of one loop iteration (that of the agentos loop, a shared convention): copies starting
an episode pick an arm and reset their memory to {f(x_0)}; act; step; the intrinsic reward of
each copy's next observation (the final one where an episode ended) against its memory, the
RND error statistics first updated with the N errors; sequences; bandits fed with finished
episodes' returns; the updates due, then act with the new variables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import jax
import numpy as np

from .reference_agent57 import (
    FIELDS,
    Config,
    init_variables,
    jitted_acting,
    make_nets,
    mixture,
)
from .reference_agent57_learner import SequenceTable, make_update

# ============================================================================ 3. acting


def apex_epsilons(cfg: Config) -> np.ndarray:
    """eps_i = base^(1 + alpha i / (N - 1)) (Ape-X section 4)."""
    n = cfg.num_envs
    return np.array(
        [cfg.epsilon_base ** (1 + cfg.epsilon_alpha * i / max(n - 1, 1)) for i in range(n)]
    )


def epsilon_greedy(q: np.ndarray, eps: np.ndarray, rng: np.random.Generator):
    """(actions, mu = behaviour probability of the action taken)."""
    n, num_actions = q.shape
    greedy = q.argmax(axis=1)
    u = rng.random(n)
    random_action = rng.integers(0, num_actions, size=n)
    actions = np.where(u < eps, random_action, greedy)
    mu = np.where(actions == greedy, 1.0 - eps + eps / num_actions, eps / num_actions)
    return actions, mu.astype(np.float32)


class Bandit:
    """Sliding-window UCB with epsilon-greedy exploration (Agent57 App. E)."""

    def __init__(self, cfg: Config, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng
        self.history: list[tuple[int, float]] = []
        self.selected = 0

    def select(self) -> int:
        k, n = self.selected, self.cfg.num_arms
        self.selected += 1
        if k < n:
            return k  # each arm once, in order
        if self.rng.random() < self.cfg.bandit_epsilon:
            return int(self.rng.integers(n))
        scores = []
        for arm in range(n):
            returns = [r for a, r in self.history if a == arm]
            if not returns:
                return arm  # absent from the window: infinite bonus (lowest index first)
            scores.append(np.mean(returns) + self.cfg.bandit_beta * np.sqrt(1.0 / len(returns)))
        return int(np.argmax(scores))

    def update(self, arm: int, episode_return: float) -> None:
        self.history = (self.history + [(arm, episode_return)])[-self.cfg.bandit_window :]


class Memory:
    """One copy's NGU episodic memory (Alg. 1) and its running mean d_m^2."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.slots: list[np.ndarray] = []
        self.next = 0
        self.mean, self.count = 0.0, 0.0

    def reset(self) -> None:
        self.slots, self.next = [], 0  # the mean lives on across episodes

    def add(self, f: np.ndarray) -> None:
        f = np.asarray(f, np.float64)
        if len(self.slots) < self.cfg.episodic_capacity:
            self.slots.append(f)
        else:
            self.slots[self.next] = f  # full: the oldest goes
        self.next = (self.next + 1) % self.cfg.episodic_capacity

    def reward_and_add(self, f: np.ndarray) -> float:
        """r = 1 / (sqrt(sum_k K(f, f_k)) + c), 0 if that root > s_max; then f is stored."""
        c = self.cfg
        d = np.sort([np.sum((m - np.asarray(f, np.float64)) ** 2) for m in self.slots])
        d = d[: c.num_neighbours]
        n = len(d)
        if n:
            count = self.count + n
            if c.episodic_mean_horizon is not None:
                count = min(count, c.episodic_mean_horizon)
            self.mean += float(np.sum(d - self.mean)) / max(count, 1.0)
            self.count = count
        d_n = d / self.mean if self.mean > 0 else np.zeros_like(d)
        kernel = c.kernel_epsilon / (np.maximum(d_n - c.cluster_distance, 0.0) + c.kernel_epsilon)
        s = np.sqrt(np.sum(kernel)) + c.pseudo_count
        self.add(f)
        return 0.0 if s > c.max_similarity else 1.0 / s


class ErrorStats:
    """Exponentially weighted mean / variance of the RND errors (weight decay 1 - 1/horizon)."""

    def __init__(self, horizon: float | None):
        self.decay = 1.0 if horizon is None else 1.0 - 1.0 / horizon
        self.weight, self.mean, self.var = 0.0, 0.0, 0.0

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        past = self.weight * self.decay ** len(x)
        total = past + len(x)
        mean = (past * self.mean + x.sum()) / total
        self.var = (past * (self.var + (self.mean - mean) ** 2) + np.sum((x - mean) ** 2)) / total
        self.mean, self.weight = mean, total

    def alpha(self, err: np.ndarray, max_modulation: float) -> np.ndarray:
        """clip(1 + (err - mu) / (sigma + 1e-8), 1, L), in float32."""
        f32 = np.float32
        z = (err.astype(f32) - f32(self.mean)) / (f32(np.sqrt(self.var)) + f32(1e-8))
        return np.clip(f32(1.0) + z, f32(1.0), f32(max_modulation))


# ============================================================================ 4. sequences


def make_step(obs, action, reward_in, discount, prev_action, mask, mu, arm, state) -> dict:
    """Stored step x_t: r_t = [r^e_t, r^i_t] and gamma_t arrive with x_t; a_{t-1}, r_t are
    network inputs; (h, c) [2, H] the states both heads acted in x_t with."""
    return {
        "observation": np.array(obs, np.float32),
        "action": action,
        "reward": np.array(reward_in, np.float32),
        "discount": discount,
        "prev_action": prev_action,
        "prev_reward": np.array(reward_in, np.float32),
        "mask": mask,
        "mu": mu,
        "arm": arm,
        "lstm_h": np.array(state[0], np.float32),
        "lstm_c": np.array(state[1], np.float32),
    }


def cut(cfg: Config, episode: list[dict], start: int) -> dict:
    """Steps start .. start + T - 1, zero padded to T, with the states at ``start``."""
    steps = episode[start : start + cfg.sequence_length]
    seq = {}
    for key in (*FIELDS, "mu", "arm"):
        values = np.array([s[key] for s in steps])
        pad = np.zeros((cfg.sequence_length - len(steps),) + values.shape[1:], values.dtype)
        seq[key] = np.concatenate([values, pad])
    seq["lstm_h"], seq["lstm_c"] = episode[start]["lstm_h"], episode[start]["lstm_c"]
    return seq


def burn_in_padding(cfg: Config, first: dict) -> list[dict]:
    """What is stored before an episode's first step: ``burn_in`` steps of zeros with mask 0,
    carrying the first step's mu, arm and states (its first sequence's trace starts at x_0)."""
    keep = ("mu", "arm", "lstm_h", "lstm_c")
    return [{k: (v if k in keep else np.zeros_like(v)) for k, v in first.items()}] * cfg.burn_in


def sequences_completed(cfg: Config, episode: list[dict], ended: bool) -> list[dict]:
    """Sequences of a padded episode start at 0, max(period, burn_in), then every ``period``
    steps; one is complete when its T-th step arrives, or when the episode ends (then padded)
    if its trace holds an action."""
    T, b = cfg.sequence_length, cfg.burn_in
    starts = [0, *range(max(cfg.period, b), len(episode), cfg.period)]
    if not ended:
        start = len(episode) - T
        return [cut(cfg, episode, start)] if start in starts else []
    last_action = len(episode) - 1  # the final observation's index
    return [
        cut(cfg, episode, start)
        for start in starts
        if start + T > last_action and any(s["mask"] for s in episode[start + b : start + T])
    ]


# ============================================================================ 5. the run


@dataclass
class ReferenceRun:
    """What the reference did, for the comparison."""

    initial_variables: Any
    actions: list[np.ndarray] = field(default_factory=list)
    """[N] actions per loop iteration."""
    observations: list[np.ndarray] = field(default_factory=list)
    """[N, obs] observations acted on, per iteration."""
    arms: list[np.ndarray] = field(default_factory=list)
    """[N] the arm each copy acted with, per iteration."""
    novelty: list[dict] = field(default_factory=list)
    """Per iteration: episodic reward, alpha, intrinsic reward [N] of reaching x_{t+1}."""
    sequences: list[dict] = field(default_factory=list)
    """Every sequence inserted into replay, in insertion order."""
    updates: list[dict] = field(default_factory=list)
    """Per update: env_steps, indices, weights, metrics, priorities, variables, target."""
    final_priorities: np.ndarray | None = None
    episodes_terminated: int = 0
    episodes_truncated: int = 0
    longest_episode: int = 0


def to_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda x: np.array(x), tree)


def run(
    cfg: Config,
    *,
    env_id: str,
    max_episode_steps: int | None,
    init_seed: int,
    explore_seed: int,
    meta_seed: int,
    env_seed: int,
    total_steps: int,
    sampled_indices: list[np.ndarray],
    max_updates: int | None = None,
) -> ReferenceRun:
    """Act on N gymnasium copies, cut sequences, learn at the replay ratio.

    ``sampled_indices[u]`` are the sequence numbers of the u-th batch (the replay's draw;
    everything computed from it is ours). Stops after ``total_steps`` env steps, right after
    ``max_updates`` updates, or when a sampled sequence does not exist here (a planted error
    that changed the trajectory)."""
    N = cfg.num_envs
    envs = [gymnasium.make(env_id, max_episode_steps=max_episode_steps) for _ in range(N)]
    num_actions = int(envs[0].action_space.n)
    obs_dim = int(np.prod(envs[0].observation_space.shape))
    nets = make_nets(cfg, num_actions)
    act, novelty = jitted_acting(cfg, nets)
    update, init_opt = make_update(cfg, nets)
    betas, gammas = mixture(cfg)
    variables = init_variables(cfg, nets, obs_dim, init_seed)
    target_q, opt_states, acting = variables["q"], init_opt(variables), variables
    out = ReferenceRun(initial_variables=to_numpy(variables))
    rng = np.random.default_rng(explore_seed)
    shared = cfg.bandit_shared
    bandits = [Bandit(cfg, r) for r in np.random.default_rng(meta_seed).spawn(1 if shared else N)]
    memories = [Memory(cfg) for _ in range(N)]
    error_stats = ErrorStats(cfg.rnd_error_horizon)
    eps = apex_epsilons(cfg)
    table = SequenceTable(cfg)

    Z = np.zeros((N, 2, cfg.lstm_size), np.float32)
    obs = np.stack([env.reset(seed=env_seed + i)[0] for i, env in enumerate(envs)])
    h_state, c_state = Z.copy(), Z.copy()
    prev_action = np.zeros(N, np.int32)
    prev_reward = np.zeros((N, 2), np.float32)
    arms = np.full(N, -1)
    returns = np.zeros(N)
    episodes: list[list[dict]] = [[] for _ in range(N)]
    env_steps = num_updates = 0
    while env_steps < total_steps:
        # --- an episode starts: its arm, and an episodic memory holding f(x_0)
        starting = np.flatnonzero(arms < 0)
        if len(starting):
            f0, _ = novelty(acting, obs)
            for i in starting:
                arms[i] = bandits[0 if shared else i].select()
                memories[i].reset()
                if cfg.memory_holds_x0:
                    memories[i].add(np.asarray(f0[i]))
        # --- act: epsilon-greedy on the combined values of each copy's arm
        q, h_new, c_new = act(acting["q"], obs, prev_action, prev_reward, arms, h_state, c_state)
        h_new, c_new = np.array(h_new), np.array(c_new)
        actions, mu = epsilon_greedy(np.asarray(q), eps, rng)
        out.actions.append(actions)
        out.observations.append(obs.copy())
        out.arms.append(arms.copy())
        stepped = [env.step(int(actions[i])) for i, env in enumerate(envs)]
        # --- intrinsic reward of reaching x_{t+1} (the final observation where one ended)
        x_next = np.stack([s[0] for s in stepped]).astype(np.float32)
        f, err = (np.asarray(x) for x in novelty(acting, x_next))
        episodic = np.array([memories[i].reward_and_add(f[i]) for i in range(N)], np.float32)
        error_stats.update(err)
        alpha = error_stats.alpha(err, cfg.max_modulation)
        intrinsic = episodic * alpha
        out.novelty.append({"episodic": episodic, "alpha": alpha, "intrinsic": intrinsic})
        new_obs = obs.copy()
        for i, env in enumerate(envs):
            _, r, terminated, truncated, _ = stepped[i]
            rewards = np.array([r, intrinsic[i]], np.float32)
            state = (h_state[i], c_state[i])
            step = make_step(obs[i], int(actions[i]), prev_reward[i], 1.0, int(prev_action[i]),
                             1.0, float(mu[i]), float(arms[i]), state)  # fmt: skip
            if not episodes[i]:
                episodes[i] += burn_in_padding(cfg, step)
            episodes[i].append(step)
            new = sequences_completed(cfg, episodes[i], ended=False)
            returns[i] += r
            if terminated or truncated:
                out.episodes_terminated += bool(terminated)
                out.episodes_truncated += bool(truncated and not terminated)
                out.longest_episode = max(out.longest_episode, len(episodes[i]) - cfg.burn_in)
                episodes[i].append(make_step(x_next[i], 0, rewards, 0.0 if terminated else 1.0,
                                             int(actions[i]), 0.0, 0.0, 0.0,
                                             (Z[i], Z[i])))  # fmt: skip
                new += sequences_completed(cfg, episodes[i], ended=True)
                bandits[0 if shared else i].update(int(arms[i]), float(returns[i]))
                episodes[i], returns[i], arms[i] = [], 0.0, -1
                new_obs[i], _ = env.reset()
                h_new[i], c_new[i] = 0.0, 0.0
                prev_action[i], prev_reward[i] = 0, 0.0
            else:
                new_obs[i] = x_next[i]
                prev_action[i], prev_reward[i] = actions[i], rewards
            for seq in new:
                table.insert(seq)
                out.sequences.append(seq)
        obs, h_state, c_state = new_obs, h_new, c_new
        previous, env_steps = env_steps, env_steps + N

        # --- learn: keep the replay ratio, then act with the new variables
        if env_steps < cfg.min_replay_size:
            continue
        if env_steps // cfg.learn_every <= previous // cfg.learn_every:
            continue
        due = (
            math.floor((env_steps - cfg.min_replay_size) * cfg.samples_per_insert / cfg.batch_size)
            - num_updates
        )
        if due <= 0 or len(table.sequences) < cfg.batch_size:
            continue
        stop = False
        for _ in range(due):
            if num_updates >= len(sampled_indices):
                stop = True
                break
            indices = np.asarray(sampled_indices[num_updates])
            if indices.max() >= len(table.sequences):
                stop = True  # not here: a planted error changed the trajectory
                break
            weights = table.importance_weights(indices)
            variables, opt_states, metrics = update(
                variables, target_q, opt_states, table.batch(indices),
                weights.astype(np.float32), betas, gammas,
            )  # fmt: skip
            num_updates += 1
            if num_updates % cfg.target_update_period == 0:
                target_q = variables["q"]
            metrics = to_numpy(metrics)
            priorities = np.asarray(metrics.pop("priorities"), np.float64)
            table.set_priorities(indices, priorities)
            out.updates.append({
                "env_steps": env_steps, "indices": indices, "weights": weights,
                # as stored: a sequence sampled twice keeps its last priority (with
                # exploit_every the two copies may be trained for different arms)
                "metrics": metrics,
                "priorities": np.asarray([table.priorities[int(i)] for i in indices]),
                "variables": to_numpy(variables), "target_q": to_numpy(target_q),
            })  # fmt: skip
            if max_updates is not None and num_updates >= max_updates:
                stop = True
                break
        acting = variables
        if stop:
            break
    out.final_priorities = np.asarray(table.priorities)
    for env in envs:
        env.close()
    return out
