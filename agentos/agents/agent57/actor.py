"""The Agent57 actor: a mixture arm per episode, NGU intrinsic rewards per step, epsilon-greedy
on the combined values, and sequences of (extrinsic, intrinsic) rewards to replay.

Badia et al. (2020), https://arxiv.org/abs/2003.13350 , sections 3-4 and App. B/E; NGU
(https://arxiv.org/abs/2002.06038), section 2.

Per environment i of the vectorised batch (each plays the part of one Agent57 actor):

* at an episode's start the meta-controller (a sliding-window UCB bandit per environment,
  ``meta_controller.MetaController``) picks the arm j = (beta_j, gamma_j); the episode's
  undiscounted extrinsic return is its bandit reward. Evaluation episodes get their arm from
  ``evaluation_arms.EvaluationArms``: a fixed arm, the training bandit's greedy arm, or
  Agent57's ``EvaluatorMetaController`` alternating bandit and greedy-arm episodes;
* the action is epsilon-greedy (Ape-X ladder over the environments) on
  ``h(h^{-1}(Q_e) + beta_j h^{-1}(Q_i))`` from one jitted call of both networks;
* after each step the intrinsic reward of reaching ``x_{t+1}`` is
  ``r_i = r_episodic(f(x_{t+1})) * clip(alpha(x_{t+1}), 1, L)``: the episodic reward compares
  the controllable-state embedding with this episode's memory (``episodic.EpisodicMemory``,
  emptied at each episode start, which then stores ``f(x_0)``: the memory holds
  ``f(x_0) .. f(x_t)``, NGU section 2), alpha is the RND error (on whitened input, see
  ``rnd``) normalised by its running mean and std over about the last
  ``rnd_error_horizon`` errors (``rnd.RunningMeanStd``, updated with every training step's
  errors first);
* the step goes to the sequence adder with reward ``[r_e, r_i]`` (the R2D2 alignment: both
  belong to ``(x_t, a_t) -> x_{t+1}``), the behaviour probability ``mu`` and the arm.

Extras per environment: ``lstm_h``/``lstm_c`` ``[2, H]`` (extrinsic and intrinsic LSTM),
``prev_action``, ``prev_reward`` ``[2]``, ``arm`` (-1 until chosen at the episode's first step),
``episode_return`` (extrinsic, for the bandit) and ``explore`` (training or evaluation step).
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium
import numpy as np

from agentos.agents.agent57.actor_params import Agent57ActorParams
from agentos.agents.agent57.episodic_memory import EpisodicMemory
from agentos.agents.agent57.evaluation_arms import EvaluationArms
from agentos.agents.agent57.meta_controller import EvaluatorMetaController, MetaController
from agentos.agents.agent57.network import NUM_HEADS
from agentos.agents.agent57.rnd import RunningMeanStd, modulation
from agentos.agents.dqn.network import tree_from_numpy, tree_to_numpy
from agentos.agents.r2d2.actor import MU, STATE_KEYS, ApeXEpsilons, epsilon_greedy
from agentos.agents.r2d2.adder import SequenceAdder
from agentos.agents.torso import action_kind, discrete_actions_fix
from agentos.errors import IncompatibleSpaceError, ParameterError
from agentos.replay.memory import check_sequences_fit
from agentos.runtime.roles import Actor, BuildContext, EnvStep, Transition

logger = logging.getLogger(__name__)

ARM = "arm"
"""Name of the mixture index stored with every step (constant within an episode)."""


class Agent57Actor(ApeXEpsilons, Actor):
    """Acts for N environments with the Agent57 networks and feeds sequences to replay."""

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "agent57_values", "replay": "sequences"}

    Params = Agent57ActorParams

    def __init__(
        self,
        params: Agent57ActorParams,
        context: BuildContext,
        *,
        network: Any,
        replay: Any,
        **dependencies,
    ):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.network = network
        self.replay = replay
        self.num_envs = int(context.num_envs)
        self.num_arms = int(network.num_arms)
        if params.evaluation_arm is not None and params.evaluation_arm >= self.num_arms:
            raise ParameterError(
                f"evaluation_arm {params.evaluation_arm} is not an arm: the network has "
                f"{self.num_arms} (0 .. {self.num_arms - 1})",
                fix="set actor.evaluation_arm=0 (the exploitative arm), or raise network.num_arms",
            )
        self.lstm_size = int(network.params.lstm_size)
        self._rng = context.numpy_rng("explore")
        self._eval_rng = context.numpy_rng("evaluate")  # evaluating must not shift exploration
        self._variables = network.initial_params()
        check_sequences_fit(replay, context.observation_space, params.burn_in + params.trace_length)
        self.adder = SequenceAdder(
            replay,
            self.num_envs,
            params.burn_in,
            params.trace_length,
            params.period,
            reward_shape=(NUM_HEADS,),
        )
        self.meta = MetaController(
            self.num_envs,
            self.num_arms,
            params.bandit_window,
            params.bandit_epsilon,
            params.bandit_beta,
            rng=context.numpy_rng("meta"),
            shared=params.bandit_shared,
        )
        self.evaluator = EvaluatorMetaController(
            self.num_arms,
            params.evaluator_window,
            params.evaluator_epsilon,
            params.bandit_beta,
            rng=context.numpy_rng("evaluator"),
        )
        self.memory = self._new_memory(self.num_envs)
        self._eval_memory: EpisodicMemory | None = None
        self.evaluation_arms = EvaluationArms(
            self.evaluator, self.meta, params.evaluation_arm, params.evaluation_chooser
        )
        self.rnd_errors = RunningMeanStd(horizon=params.rnd_error_horizon)
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # actions, mu, arms
        self._last_intrinsic = np.zeros(self.num_envs, np.float32)
        self._info: dict[str, np.ndarray] = {}
        self._ladders: dict[int, np.ndarray] = {}
        self.stats: dict[str, list[float]] = {}

    def _new_memory(self, num_envs: int) -> EpisodicMemory:
        p = self.params
        return EpisodicMemory(
            num_envs,
            p.episodic_capacity,
            int(self.network.params.embedding_dim),
            k=p.num_neighbours,
            kernel_epsilon=p.kernel_epsilon,
            cluster_distance=p.cluster_distance,
            pseudo_count=p.pseudo_count,
            max_similarity=p.max_similarity,
            mean_horizon=p.episodic_mean_horizon,
        )

    @classmethod
    def check_spaces(
        cls, params: Agent57ActorParams, observation_space: Any, action_space: Any
    ) -> None:
        """Require a Discrete action space."""
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise IncompatibleSpaceError(
                f"the Agent57 actor handles Discrete action spaces only; environment has "
                f"{action_space!r}{action_kind(action_space)}",
                fix=discrete_actions_fix(action_space),
            )

    # --- acting -----------------------------------------------------------------------
    def initial_extras(self, num_envs: int) -> dict[str, Any]:
        """Zero LSTM states and inputs, no arm yet (chosen at the first step)."""
        zeros = np.zeros((num_envs, NUM_HEADS, self.lstm_size), dtype=np.float32)
        return {
            STATE_KEYS[0]: zeros,
            STATE_KEYS[1]: zeros.copy(),
            "prev_action": np.zeros(num_envs, dtype=np.int32),
            "prev_reward": np.zeros((num_envs, NUM_HEADS), dtype=np.float32),
            ARM: np.full(num_envs, -1, dtype=np.int32),
            "episode_return": np.zeros(num_envs, dtype=np.float64),
            "explore": np.zeros(num_envs, dtype=bool),
        }

    def _choose_arms(self, arms: np.ndarray, explore: bool, observation: Any) -> np.ndarray:
        """Arms for environments starting an episode (-1), from the right meta-controller;
        their episodic memories are emptied and then hold ``f(x_0)`` (``observation``)."""
        starting = arms < 0
        if not starting.any():
            return arms
        arms = arms.copy()
        for i in np.flatnonzero(starting):
            if explore:
                arms[i] = self.meta.select(int(i))
            else:
                arms[i] = self.evaluation_arms.choose(int(i))
        memory = self.memory if explore else self._evaluation_memory(len(arms))
        memory.reset(starting)
        # NGU's memory holds f(x_0 .. x_t): without x_0, returning to the start is novel.
        embeddings, _ = self.network.novelty_inputs(self._variables, observation)
        memory.add(embeddings, starting)
        if explore:
            for arm in arms[starting]:
                self.stats.setdefault("arm", []).append(float(arm))
        return arms

    def _evaluation_memory(self, num_envs: int) -> EpisodicMemory:
        if self._eval_memory is None or self._eval_memory.num_envs != num_envs:
            self._eval_memory = self._new_memory(num_envs)
        return self._eval_memory

    def select_action(
        self, observation: np.ndarray, extras: dict[str, Any], *, explore: bool, env_steps: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Epsilon-greedy actions on the combined values of each environment's arm."""
        if not extras:
            extras = self.initial_extras(np.shape(observation)[0])
        arms = self._choose_arms(np.asarray(extras[ARM], dtype=np.int32), explore, observation)
        # Extras are [N, 2, H]; the networks take [2, N, H].
        state = (
            np.swapaxes(extras[STATE_KEYS[0]], 0, 1),
            np.swapaxes(extras[STATE_KEYS[1]], 0, 1),
        )
        q, (h, c) = self.network.act(
            self._variables,
            observation,
            extras["prev_action"],
            extras["prev_reward"],
            arms,
            state,
        )
        q = np.asarray(q)
        epsilons = self.epsilons(q.shape[0], explore)
        actions, mu = epsilon_greedy(q, epsilons, self._rng if explore else self._eval_rng)
        self._info = {"arm": arms, "epsilon": epsilons, "q": q}
        if explore:
            self._pending = (actions, mu, arms)
        new_extras = {
            STATE_KEYS[0]: np.swapaxes(np.asarray(h), 0, 1),
            STATE_KEYS[1]: np.swapaxes(np.asarray(c), 0, 1),
            "prev_action": actions.astype(np.int32),
            "prev_reward": np.asarray(extras["prev_reward"], dtype=np.float32),
            ARM: arms,
            "episode_return": np.asarray(extras["episode_return"], dtype=np.float64),
            "explore": np.full(len(actions), explore),
        }
        return actions, new_extras

    def intrinsic_rewards(
        self, next_observation: np.ndarray, memory: EpisodicMemory, *, learn_normaliser: bool
    ) -> np.ndarray:
        """``r_i = r_episodic * clip(alpha, 1, L)`` of reaching ``next_observation`` ``[N]``."""
        embeddings, errors = self.network.novelty_inputs(self._variables, next_observation)
        episodic = memory.reward_and_add(embeddings)
        errors = np.asarray(errors, dtype=np.float64)
        if learn_normaliser:
            self.rnd_errors.update(errors)
        alpha = np.asarray(
            modulation(
                errors.astype(np.float32),
                float(self.rnd_errors.mean),
                float(self.rnd_errors.std),
                float(self.network.params.max_modulation),
            )
        )
        if learn_normaliser:
            self.stats.setdefault("intrinsic_reward", []).append(float(np.mean(episodic * alpha)))
            self.stats.setdefault("rnd_alpha", []).append(float(np.mean(alpha)))
        self._info.update(
            episodic_reward=episodic, rnd_alpha=alpha, intrinsic_reward=episodic * alpha
        )
        return (episodic * alpha).astype(np.float32)

    def after_step(self, extras: dict[str, Any], step: EnvStep) -> dict[str, Any]:
        """Previous rewards for the next step's inputs; finished episodes feed their bandit."""
        explore = bool(np.all(extras["explore"]))
        if explore:
            intrinsic = self._last_intrinsic
        else:
            memory = self._evaluation_memory(len(step.reward))
            intrinsic = self.intrinsic_rewards(
                step.final_observation, memory, learn_normaliser=False
            )
        episode_return = np.asarray(extras["episode_return"]) + step.reward
        done = np.asarray(step.terminated) | np.asarray(step.truncated)
        for i in np.flatnonzero(done):
            arm = int(extras[ARM][i])
            if explore:
                self.meta.update(int(i), arm, float(episode_return[i]))
            else:
                self.evaluation_arms.finish(int(i), arm, float(episode_return[i]))
        prev_reward = np.stack([np.asarray(step.reward, np.float32), intrinsic], axis=-1)
        return {**extras, "prev_reward": prev_reward, "episode_return": episode_return}

    def step_info(self) -> dict[str, np.ndarray]:
        """The last step's arm, epsilon and combined Q-values, and the intrinsic reward of the
        transition (episodic part, RND alpha, their product), per environment."""
        return dict(self._info)

    def observe(self, transition: Transition) -> int:
        """Intrinsic rewards of the step, then the step to the sequence adder."""
        action = np.asarray(transition.action)
        if self._pending is None or not np.array_equal(self._pending[0], action):
            raise RuntimeError(
                "Agent57Actor.observe needs the transition of its latest "
                "select_action(explore=True)"
            )
        _, mu, arms = self._pending
        self._pending = None
        extras = transition.extras
        intrinsic = self.intrinsic_rewards(
            transition.next_observation, self.memory, learn_normaliser=True
        )
        self._last_intrinsic = intrinsic
        rewards = np.stack([np.asarray(transition.reward, np.float32), intrinsic], axis=-1)
        return self.adder.add(
            transition.observation,
            action,
            rewards,
            transition.terminated,
            transition.truncated,
            transition.next_observation,
            start_state={k: np.asarray(extras[k], dtype=np.float32) for k in STATE_KEYS},
            step_extras={MU: mu, ARM: arms.astype(np.float32)},
        )

    def update(self, variables: Any) -> None:
        """Act with these learner variables from now on."""
        self._variables = variables

    def end_episodes(self) -> None:
        """Drop the adder's open sequences (the loop restarts the episodes; their new first
        steps choose arms and empty the episodic memories)."""
        self.adder.drop_open_sequences()

    def pop_stats(self) -> dict[str, float]:
        """The actor's metrics since the last call: mean intrinsic reward and RND alpha, and
        the histogram of arms chosen (``arm_j``: fraction of episodes started with arm j)."""
        arms = self.stats.pop("arm", [])
        stats = {k: float(np.mean(v)) for k, v in self.stats.items() if v}
        if arms:
            counts = np.bincount(np.asarray(arms, dtype=np.int64), minlength=self.num_arms)
            stats.update({f"arm_{j}": float(n) / len(arms) for j, n in enumerate(counts)})
        self.stats = {}
        return stats

    def pop_eval_stats(self) -> dict[str, float]:
        """The evaluation episodes finished since the last call (copies past their quota
        included), by how their arm was chosen (``EvaluationArms.pop_stats``): the evaluator's
        bandit and greedy modes tell the best arm's policy apart from the bandit trying others."""
        return self.evaluation_arms.pop_stats()

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Rng, adder, variables, bandits, episodic memories and the RND normaliser."""
        return {
            "rng": self._rng.bit_generator.state,
            "eval_rng": self._eval_rng.bit_generator.state,
            "adder": self.adder.state_dict(),
            "params": tree_to_numpy(self._variables),
            "meta": self.meta.state_dict(),
            "evaluator": self.evaluator.state_dict(),
            "memory": self.memory.state_dict(),
            "rnd_errors": self.rnd_errors.state_dict(),
            "last_intrinsic": self._last_intrinsic,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._rng.bit_generator.state = state["rng"]
        self._eval_rng.bit_generator.state = state["eval_rng"]
        self._variables = tree_from_numpy(self._variables, state["params"])
        self.evaluator.load_state_dict(state["evaluator"])
        self.rnd_errors.load_state_dict(state["rnd_errors"])
        if len(state["adder"]["envs"]) == self.num_envs:
            self.adder.load_state_dict(state["adder"])
            self.meta.load_state_dict(state["meta"])
            self.memory.load_state_dict(state["memory"])
            self._last_intrinsic = np.asarray(state["last_intrinsic"], np.float32)
        else:  # e.g. `agentos run` of a checkpoint trained with another num_envs
            logger.warning(
                "checkpoint was made with %d environments, this actor has %d: its open "
                "sequences, bandits and episodic memories are not restored",
                len(state["adder"]["envs"]),
                self.num_envs,
            )
        self._pending = None
