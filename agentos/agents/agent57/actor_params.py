"""The Agent57 actor's parameters (``actor:`` of the ``agent57`` bundle), each documented at
its field with the paper's value where the bundle departs from it."""

from __future__ import annotations

from dataclasses import dataclass

from agentos.agents.agent57.evaluation_arms import CHOOSERS
from agentos.agents.r2d2.adder import check_sequence_params
from agentos.errors import ParameterError


@dataclass(frozen=True)
class Agent57ActorParams:
    """Parameters of the Agent57 actor: sequences, exploration, novelty, meta-controller."""

    burn_in: int = 8
    """Steps at the start of each sequence that only warm up the LSTMs (Agent57: 40)."""
    trace_length: int = 32
    """Steps after the burn-in the learner trains on (Agent57: 80)."""
    period: int = 20
    """Steps between the starts of consecutive sequences (Agent57: 40)."""
    epsilon: float | None = None
    """A fixed exploration rate for every environment; None: the Ape-X ladder."""
    epsilon_base: float = 0.4
    """Ape-X ladder base: eps_i = epsilon_base ** (1 + epsilon_alpha * i / (N - 1))."""
    epsilon_alpha: float = 8.0
    """Ape-X ladder exponent range (Agent57: 8)."""
    evaluation_epsilon: float = 0.01
    """Exploration rate of evaluation episodes (0: greedy). A greedy policy can loop
    forever in a deterministic environment (issue 11: DoorKey-8x8 turned left-right until
    time ran out); 0.01 as deep_rl_zoo's Agent57 evaluation."""
    episodic_capacity: int = 30_000
    """Embeddings kept per environment's episodic memory, oldest overwritten (NGU:
    30,000). The k-NN is one matrix-vector product over the memory per environment."""
    episodic_mean_horizon: float | None = 100_000.0
    """NGU's moving average d_m^2 of k-NN squared distances runs over about this many
    distances per environment (k per step); None: all-time. The embedding trains, so an
    all-time mean goes stale."""
    rnd_error_horizon: float | None = 10_000.0
    """The RND error's mean/std are exponentially weighted over about this many errors
    (all environments' together); None: all-time. An all-time mean stays above the errors
    once the predictor has learned and leaves alpha at 1 (issue 11)."""
    num_neighbours: int = 10
    """k of the k-nearest-neighbour episodic reward (NGU: 10)."""
    kernel_epsilon: float = 1e-4
    """epsilon of the inverse kernel (NGU: 1e-4)."""
    cluster_distance: float = 0.008
    """xi, normalised distances below it count as identical (NGU: 0.008)."""
    pseudo_count: float = 0.001
    """c, added to the similarity's square root (NGU: 0.001)."""
    max_similarity: float = 8.0
    """s_max, above it the episodic reward is 0 (NGU: 8)."""
    bandit_window: int = 160
    """Sliding window (episodes) of each training bandit (Agent57: 160)."""
    bandit_epsilon: float = 0.5
    """Random-arm probability of each training bandit (Agent57: 0.5)."""
    bandit_beta: float = 1.0
    """UCB bonus weight (Agent57: 1)."""
    bandit_shared: bool = False
    """One training bandit fed by every copy's episodes instead of one per copy (the
    paper's actors each run their own). A per-copy bandit learns from 1/num_envs of the
    episodes, too few to leave its epsilon-random start in a short run."""
    evaluator_window: int = 3600
    """Sliding window of the evaluator's bandit (Agent57: 3600)."""
    evaluator_epsilon: float = 0.01
    """Random-arm probability of the evaluator's bandit (Agent57: 0.01)."""
    evaluation_arm: int | None = None
    """Evaluate every episode with this arm (0: the exploitative arm, beta 0, as NGU
    reports); None: ``evaluation_chooser`` picks each episode's arm."""
    evaluation_chooser: str = "evaluator"
    """Who picks an evaluation episode's arm: ``evaluator`` (Agent57's evaluator bandit,
    alternating its own bandit and greedy episodes) or ``training`` (every episode plays
    the arm with the best mean return in the training meta-controller's window)."""

    def __post_init__(self) -> None:
        check_sequence_params(self.burn_in, self.trace_length, self.period)
        for name in ("epsilon", "epsilon_base", "evaluation_epsilon", "bandit_epsilon"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must be in [0, 1], got {value}")
        if not 0.0 <= self.evaluator_epsilon <= 1.0:
            raise ParameterError(
                f"evaluator_epsilon must be in [0, 1], got {self.evaluator_epsilon}"
            )
        for name in ("rnd_error_horizon", "episodic_mean_horizon"):
            value = getattr(self, name)
            if value is not None and not value >= 1.0:
                raise ParameterError(f"{name} must be >= 1 or None, got {value}")
        for name in ("episodic_capacity", "num_neighbours", "bandit_window"):
            if getattr(self, name) < 1:
                raise ParameterError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.evaluator_window < 1:
            raise ParameterError(f"evaluator_window must be >= 1, got {self.evaluator_window}")
        if self.evaluation_chooser not in CHOOSERS:
            raise ParameterError(
                f"evaluation_chooser must be 'evaluator' or 'training', got "
                f"{self.evaluation_chooser!r}",
                fix="set actor.evaluation_chooser=training or =evaluator",
            )
        if self.evaluation_arm is not None and self.evaluation_arm < 0:
            raise ParameterError(
                f"evaluation_arm must be >= 0 or null, got {self.evaluation_arm}",
                fix="set actor.evaluation_arm=0 (the exploitative arm) or null",
            )
