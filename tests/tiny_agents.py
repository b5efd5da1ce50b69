"""Overrides that make the r2d2 and agent57 bundles tiny (seconds per run), shared by the
resume and Ray layout tests; each test adds its own ``loop.checkpoint_every``."""

TINY_R2D2 = [
    "network.hidden_sizes=[16]",
    "network.lstm_size=16",
    "network.head_hidden=16",
    "replay.capacity=64",
    "learner.batch_size=4",
    "learner.n_step=2",
    "learner.target_update_period=10",
    "actor.burn_in=2",
    "actor.trace_length=6",
    "actor.period=3",
    "environment.num_envs=2",
    "loop.min_replay_size=100",
    "loop.eval_every=0",
    "loop.eval_episodes=2",
    "loop.log_every=100",
]
"""The r2d2 bundle on cartpole, 2 envs, sequences of 2 + 6 steps."""

TINY_AGENT57 = [
    "network.hidden_sizes=[8]",
    "network.lstm_size=8",
    "network.head_hidden=0",
    "network.num_arms=3",
    "network.embedding_hidden=[8]",
    "network.embedding_dim=4",
    "network.rnd_hidden=[8]",
    "network.rnd_output=4",
    "replay.capacity=64",
    "learner.batch_size=4",
    "learner.target_update_period=10",
    "actor.burn_in=2",
    "actor.trace_length=6",
    "actor.period=3",
    "actor.episodic_capacity=50",
    "actor.bandit_window=5",
    "environment.num_envs=2",
    "environment.length=6",
    "loop.min_replay_size=100",
    "loop.samples_per_insert=4.0",  # pinned: tests count the updates it implies
    "loop.eval_every=0",
    "loop.eval_episodes=2",
    "loop.log_every=100",
]
"""The agent57 bundle on a 6-cell permuted chain, 2 envs, 3 arms."""
