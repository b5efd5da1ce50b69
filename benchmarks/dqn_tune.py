"""Tune DQN defaults on CartPole-v1: train with the agentos loop rule, evaluate greedily.

Implements the training loop of ``agentos.runtime.loop`` (acting, replay inserts, the
samples-per-insert rule, variable syncs) with a minimal gymnasium wrapper, so the DQN
components can be tuned before the rest of the package exists. Prints one JSON line per seed:
``{seed, final_eval_mean, best_eval_mean, evals, wall_s, env_steps_per_s}``.

    python benchmarks/dqn_tune.py --seeds 0 1 2
    python benchmarks/dqn_tune.py --seeds 0 -p learner.learning_rate=1e-3 --learn-every 1
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agentos.agents.dqn.actor import DQNActor
from agentos.agents.dqn.learner import DQNLearner
from agentos.agents.dqn.network import QNetwork
from agentos.replay.uniform import UniformReplay
from agentos.runtime.roles import BuildContext, EnvStep, Transition

SAMPLES_PER_INSERT = 32.0
"""Default loop ratio of sampled transitions (updates x batch) to inserted transitions."""
MIN_REPLAY_SIZE = 1_000
"""Default env steps before learning starts."""
LEARN_EVERY = 1
"""Default: call the learner only when the env step counter is a multiple of this."""


class VectorEnv:
    """N gymnasium copies that reset themselves; seeded once at the first reset."""

    def __init__(self, env_id: str, num_envs: int, seed: int):
        self.envs = [gym.make(env_id) for _ in range(num_envs)]
        self.seed = seed
        self.observation_space = self.envs[0].observation_space
        self.action_space = self.envs[0].action_space

    def reset(self) -> np.ndarray:
        """Reset every copy with seeds seed, seed+1, ...; returns [N, ...] observations."""
        return np.stack([env.reset(seed=self.seed + i)[0] for i, env in enumerate(self.envs)])

    def step(self, actions: np.ndarray) -> EnvStep:
        """Step all copies; a copy whose episode ended is reset (without a seed)."""
        observations, finals, rewards, terminateds, truncateds = [], [], [], [], []
        for env, action in zip(self.envs, actions, strict=True):
            obs, reward, terminated, truncated, _ = env.step(int(action))
            finals.append(obs)
            if terminated or truncated:
                obs, _ = env.reset()
            observations.append(obs)
            rewards.append(reward)
            terminateds.append(terminated)
            truncateds.append(truncated)
        return EnvStep(
            observation=np.stack(observations),
            reward=np.asarray(rewards, dtype=np.float32),
            terminated=np.asarray(terminateds, dtype=bool),
            truncated=np.asarray(truncateds, dtype=bool),
            final_observation=np.stack(finals),
        )


def evaluate(
    actor: DQNActor, env_id: str, seed: int, episodes: int, endings: list | None = None
) -> list[float]:
    """Greedy returns of ``episodes`` episodes on a fresh env seeded with ``seed`` at the start.

    If ``endings`` is a list, the last observation of each terminated episode is appended.
    """
    env = gym.make(env_id)
    returns = []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        done, total = False, 0.0
        while not done:
            action, _ = actor.select_action(obs[None], {}, explore=False, env_steps=0)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            total += float(reward)
            done = terminated or truncated
        if terminated and endings is not None:
            endings.append([round(float(v), 3) for v in obs])
        returns.append(total)
        obs, _ = env.reset()
    env.close()
    return returns


def parse_overrides(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``component.field=value`` strings -> {component: {field: value}} (values as literals)."""
    overrides: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        component, _, name = key.partition(".")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        overrides.setdefault(component, {})[name] = value
    return overrides


def train(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Train DQN on one seed with the loop rule; returns the result record."""
    overrides = parse_overrides(args.param)
    env = VectorEnv(args.env, args.num_envs, seed)

    def context(name: str) -> BuildContext:
        return BuildContext(
            name=name,
            seed=seed,
            agent_dir=Path("."),
            observation_space=env.observation_space,
            action_space=env.action_space,
            num_envs=args.num_envs,
        )

    def params(cls: type, name: str) -> Any:
        return dataclasses.replace(cls.Params(), **overrides.get(name, {}))

    network = QNetwork(params(QNetwork, "network"), context("network"))
    replay = UniformReplay(params(UniformReplay, "replay"), context("replay"))
    actor = DQNActor(params(DQNActor, "actor"), context("actor"), network=network, replay=replay)
    learner = DQNLearner(
        params(DQNLearner, "learner"), context("learner"), network=network, replay=replay
    )

    start = time.perf_counter()
    obs = env.reset()
    extras = actor.initial_extras(args.num_envs)
    t, updates_done, next_eval = 0, 0, args.eval_every
    metrics: dict[str, float] = {}
    evals: list[tuple[int, float]] = []
    episode_returns = np.zeros(args.num_envs)
    train_returns: list[float] = []
    while t < args.steps:
        actions, extras = actor.select_action(obs, extras, explore=True, env_steps=t)
        step = env.step(actions)
        actor.observe(
            Transition(
                obs, actions, step.reward, step.terminated, step.truncated, step.final_observation
            )
        )
        episode_returns += step.reward
        for i in np.flatnonzero(step.terminated | step.truncated):
            train_returns.append(float(episode_returns[i]))
            episode_returns[i] = 0.0
        obs = step.observation
        t += args.num_envs
        if t % args.learn_every == 0:
            target = math.floor(
                (t - args.min_replay_size) * args.samples_per_insert / learner.batch_size
            )
            due = max(0, target) - updates_done
            if due > 0 and learner.ready():
                metrics = learner.step(due)
                updates_done += due
                actor.update(learner.get_variables())
        if t >= next_eval:
            next_eval += args.eval_every
            returns = evaluate(actor, args.env, seed + 10_000, args.eval_episodes)
            evals.append((t, float(np.mean(returns))))
            if args.verbose:
                recent = np.mean(train_returns[-10:]) if train_returns else float("nan")
                print(
                    f"  seed {seed} t={t} eval={np.mean(returns):.1f} train10={recent:.1f} "
                    f"loss={metrics.get('loss', 0.0):.3f} q={metrics.get('q_mean', 0.0):.1f}"
                )
    wall = time.perf_counter() - start
    if not evals or evals[-1][0] != t:
        returns = evaluate(actor, args.env, seed + 10_000, args.eval_episodes)
        evals.append((t, float(np.mean(returns))))
    extra = {}
    if args.final_episodes:
        endings: list = []
        returns = evaluate(actor, args.env, seed + 20_000, args.final_episodes, endings)
        extra = {"extra_eval_mean": float(np.mean(returns)), "extra_eval_endings": endings}
    return {
        "seed": seed,
        "final_eval_mean": evals[-1][1],
        "best_eval_mean": max(value for _, value in evals),
        "evals": evals,
        "updates": updates_done,
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(t / wall, 1),
        **extra,
    }


def main() -> None:
    """Parse arguments, train each seed, print one JSON line per seed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--samples-per-insert", type=float, default=SAMPLES_PER_INSERT)
    parser.add_argument("--min-replay-size", type=int, default=MIN_REPLAY_SIZE)
    parser.add_argument("--learn-every", type=int, default=LEARN_EVERY)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument(
        "--final-episodes", type=int, default=0, help="extra final evaluation on other seeds"
    )
    parser.add_argument(
        "-p", "--param", action="append", default=[], help="component.field=value override"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    for seed in args.seeds:
        record = train(args, seed)
        record["overrides"] = args.param
        record["loop"] = {
            "samples_per_insert": args.samples_per_insert,
            "min_replay_size": args.min_replay_size,
            "learn_every": args.learn_every,
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
