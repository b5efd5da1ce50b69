"""The R2D2 actor: epsilon-greedy on the recurrent Q-network for N environments at once,
feeding fixed-length sequences to prioritized replay through a ``SequenceAdder``.

Extras per environment (they travel with the step, see ``agentos.runtime.loop``):
``lstm_h``, ``lstm_c`` (the LSTM state before acting in the current observation),
``prev_action`` (a_{t-1}) and ``prev_reward`` (r_t, set by ``after_step``). The loop resets
them to ``initial_extras`` where an episode ended.

Exploration follows Ape-X (Horgan et al. 2018, https://arxiv.org/abs/1803.00933) as in R2D2
and Agent57: environment i of N acts with ``eps_i = base^(1 + alpha i / (N - 1))``
(``base = 0.4``, ``alpha = 8``), unless a fixed ``epsilon`` is given; evaluation is greedy.
With a single environment the ladder is just ``eps_0 = 0.4``: run several (the ``r2d2``
bundle sets ``defaults: {environment: {num_envs: 8}}``). Evaluation draws from its own rng,
so evaluating does not change the exploration of the training run.

The behaviour probability ``mu(a_t | x_t)`` that Retrace needs is known only when the action
is drawn; ``observe`` takes it from the ``select_action(explore=True)`` call that chose the
transition's actions (the loop calls the two in turn) and stores it with the step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np

from agentos.agents.dqn.network import tree_from_numpy, tree_to_numpy
from agentos.agents.r2d2.adder import SequenceAdder, check_sequence_params
from agentos.agents.r2d2.losses import apex_epsilons
from agentos.agents.torso import action_kind, discrete_actions_fix
from agentos.errors import IncompatibleSpaceError, ParameterError
from agentos.replay.memory import check_sequences_fit
from agentos.runtime.roles import Actor, BuildContext, EnvStep, Transition

logger = logging.getLogger(__name__)

STATE_KEYS = ("lstm_h", "lstm_c")
"""Names of the LSTM state in the extras and in stored sequences (the state at their start)."""
MU = "mu"
"""Name of the behaviour probability mu(a_t | x_t) stored with every step."""


def epsilon_greedy(
    q: np.ndarray, epsilons: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Epsilon-greedy actions for [N, A] values with per-row ``epsilons``; returns
    (actions [N] int64, mu [N] float32 = probability of each chosen action).

    Greedy ties go to the first maximal action, as in ``losses.epsilon_greedy_probabilities``.
    The rng draws N uniforms and N random actions every call, whatever the epsilons.
    """
    num, num_actions = q.shape
    greedy = np.argmax(q, axis=-1)
    explore = rng.random(num) < epsilons
    random_actions = rng.integers(0, num_actions, size=num)
    actions = np.where(explore, random_actions, greedy)
    mu = np.where(actions == greedy, 1.0 - epsilons, 0.0) + epsilons / num_actions
    return actions.astype(np.int64), mu.astype(np.float32)


class ApeXEpsilons:
    """The Ape-X epsilon ladder over a batch of environments, for actors whose Params have
    ``epsilon``, ``epsilon_base``, ``epsilon_alpha`` and ``evaluation_epsilon`` (R2D2, Agent57).
    """

    params: Any
    _ladders: dict[int, np.ndarray]

    def epsilons(self, num_envs: int, explore: bool) -> np.ndarray:
        """[num_envs] exploration rates: the Ape-X ladder (or fixed epsilon) when exploring,
        ``evaluation_epsilon`` otherwise."""
        p = self.params
        if not explore:
            return np.full(num_envs, p.evaluation_epsilon, dtype=np.float64)
        if p.epsilon is not None:
            return np.full(num_envs, p.epsilon, dtype=np.float64)
        if num_envs not in self._ladders:
            ladder = apex_epsilons(int(num_envs), base=p.epsilon_base, alpha=p.epsilon_alpha)
            self._ladders[num_envs] = np.asarray(ladder, dtype=np.float64)
        return self._ladders[num_envs]


class R2D2Actor(ApeXEpsilons, Actor):
    """Acts for N environments with one jitted network step and writes sequences to replay.

    Starts from the network's initial parameters (the same ones the learner starts from).
    """

    requires = {"network": "network", "replay": "replay"}
    expects = {"network": "recurrent_q_values", "replay": "sequences"}

    @dataclass(frozen=True)
    class Params:
        """Parameters of the R2D2 actor: sequence cutting and exploration."""

        burn_in: int = 8
        """Steps at the start of each stored sequence that only warm up the LSTM (R2D2: 40).
        The learner reads it as ``${actor.burn_in}``."""
        trace_length: int = 32
        """Steps after the burn-in the learner trains on (R2D2: 80)."""
        period: int = 20
        """Steps between the starts of consecutive sequences (R2D2: 40, half of 80); at most
        burn_in + trace_length, ideally <= trace_length - n_step."""
        epsilon: float | None = None
        """A fixed exploration rate for every environment; None: the Ape-X ladder."""
        epsilon_base: float = 0.4
        """Ape-X ladder base: eps_i = epsilon_base ** (1 + epsilon_alpha * i / (N - 1))."""
        epsilon_alpha: float = 8.0
        """Ape-X ladder exponent range (Agent57: 8; Ape-X: 7)."""
        evaluation_epsilon: float = 0.01
        """Exploration rate when ``explore`` is False (0: greedy). A little noise keeps a
        deterministic greedy policy from looping forever in a deterministic environment
        (0.01 as deep_rl_zoo's R2D2/Agent57 evaluation; README "Evaluation")."""

        def __post_init__(self) -> None:
            check_sequence_params(self.burn_in, self.trace_length, self.period)
            for name in ("epsilon", "epsilon_base", "evaluation_epsilon"):
                value = getattr(self, name)
                if value is not None and not 0.0 <= value <= 1.0:
                    raise ParameterError(f"{name} must be in [0, 1], got {value}")
            if self.epsilon_alpha < 0:
                raise ParameterError(f"epsilon_alpha must be >= 0, got {self.epsilon_alpha}")

    def __init__(
        self, params: Params, context: BuildContext, *, network: Any, replay: Any, **dependencies
    ):
        super().__init__(params, context, **dependencies)
        self.check_spaces(params, context.observation_space, context.action_space)
        self.network = network
        self.replay = replay
        self.num_envs = int(context.num_envs)
        self.num_actions = int(context.action_space.n)
        self.lstm_size = int(network.params.lstm_size)
        self._rng = context.numpy_rng("explore")
        self._eval_rng = context.numpy_rng("evaluate")
        self._variables = network.initial_params()
        check_sequences_fit(replay, context.observation_space, params.burn_in + params.trace_length)
        self.adder = SequenceAdder(
            replay, self.num_envs, params.burn_in, params.trace_length, params.period
        )
        self._pending: tuple[np.ndarray, np.ndarray] | None = None  # (actions, mu)
        self._ladders: dict[int, np.ndarray] = {}

    @classmethod
    def check_spaces(cls, params: Params, observation_space: Any, action_space: Any) -> None:
        """Require a Discrete action space."""
        if not isinstance(action_space, gymnasium.spaces.Discrete):
            raise IncompatibleSpaceError(
                f"the R2D2 actor handles Discrete action spaces only; environment has "
                f"{action_space!r}{action_kind(action_space)}",
                fix=discrete_actions_fix(action_space),
            )

    # --- acting -----------------------------------------------------------------------
    def initial_extras(self, num_envs: int) -> dict[str, Any]:
        """Zero LSTM state, previous action 0 and previous reward 0 for each environment."""
        zeros = np.zeros((num_envs, self.lstm_size), dtype=np.float32)
        return {
            STATE_KEYS[0]: zeros,
            STATE_KEYS[1]: zeros.copy(),
            "prev_action": np.zeros(num_envs, dtype=np.int32),
            "prev_reward": np.zeros(num_envs, dtype=np.float32),
        }

    def select_action(
        self, observation: np.ndarray, extras: dict[str, Any], *, explore: bool, env_steps: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Epsilon-greedy [N] actions from one jitted network step for all N environments.

        The returned extras hold the LSTM state after this step and ``prev_action`` = the
        actions chosen; ``after_step`` fills in ``prev_reward``.
        """
        if not extras:
            extras = self.initial_extras(np.shape(observation)[0])
        state = (extras[STATE_KEYS[0]], extras[STATE_KEYS[1]])
        q, (h, c) = self.network.apply(
            self._variables,
            observation,
            extras["prev_action"],
            extras["prev_reward"],
            state,
        )
        q = np.asarray(q)
        epsilons = self.epsilons(q.shape[0], explore)
        actions, mu = epsilon_greedy(q, epsilons, self._rng if explore else self._eval_rng)
        if explore:
            self._pending = (actions, mu)
        new_extras = {
            STATE_KEYS[0]: np.asarray(h),
            STATE_KEYS[1]: np.asarray(c),
            "prev_action": actions.astype(np.int32),
            "prev_reward": np.asarray(extras["prev_reward"], dtype=np.float32),
        }
        return actions, new_extras

    def after_step(self, extras: dict[str, Any], step: EnvStep) -> dict[str, Any]:
        """The reward just received becomes the next step's ``prev_reward`` input."""
        return {**extras, "prev_reward": np.asarray(step.reward, dtype=np.float32)}

    def observe(self, transition: Transition) -> int:
        """Feed the step to the sequence adder; returns the number of env steps recorded.

        The recurrent state stored at a sequence start is ``transition.extras``' (the state
        the action was chosen with); ``mu`` comes from the ``select_action`` call that chose
        ``transition.action``.
        """
        action = np.asarray(transition.action)
        if self._pending is None or not np.array_equal(self._pending[0], action):
            raise RuntimeError(
                "R2D2Actor.observe needs the transition of its latest select_action(explore=True)"
            )
        mu = self._pending[1]
        self._pending = None
        extras = transition.extras or self.initial_extras(action.shape[0])
        return self.adder.add(
            transition.observation,
            action,
            transition.reward,
            transition.terminated,
            transition.truncated,
            transition.next_observation,
            start_state={k: np.asarray(extras[k], dtype=np.float32) for k in STATE_KEYS},
            step_extras={MU: mu},
        )

    def update(self, variables: Any) -> None:
        """Act with these learner parameters from now on."""
        self._variables = variables

    def end_episodes(self) -> None:
        """Drop the adder's open sequences (their episodes will not go on)."""
        self.adder.drop_open_sequences()

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Exploration and evaluation rngs, the adder's open sequences and the parameters
        acted with."""
        return {
            "rng": self._rng.bit_generator.state,
            "eval_rng": self._eval_rng.bit_generator.state,
            "adder": self.adder.state_dict(),
            "params": tree_to_numpy(self._variables),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._rng.bit_generator.state = state["rng"]
        if "eval_rng" in state:  # absent from checkpoints written before it existed
            self._eval_rng.bit_generator.state = state["eval_rng"]
        saved_envs = len(state["adder"]["envs"])
        if saved_envs == self.num_envs:
            self.adder.load_state_dict(state["adder"])
        else:  # e.g. `agentos run` of a checkpoint trained with another num_envs
            logger.warning(
                "checkpoint was made with %d environments, this actor has %d: its unfinished "
                "sequences are dropped",
                saved_envs,
                self.num_envs,
            )
        self._variables = tree_from_numpy(self._variables, state["params"])
        self._pending = None
