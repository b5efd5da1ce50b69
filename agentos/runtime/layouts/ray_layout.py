"""The Ray layout: N environment-worker processes act, K replay shards store, the driver learns.

``agentos learn --actors N [--replay-shards K] [--learner-actor | --learner-gpu]
[--address ADDR]`` runs the same spec as the single-process loop:

* each **environment worker** (a Ray actor process, ``EnvironmentWorker``) builds the agent's
  environment, network and actor from the spec and ``-p`` overrides, seeded apart from the
  other workers. The actor's ``replay`` dependency is a ``ReplayCollector`` that keeps what the
  actor writes (``add_items`` sequences, or ``add`` transitions) until the driver fetches it,
  so the actor does not know where it runs. ``run(n)`` acts for n vector steps, sends the
  collected writes to the worker's replay shard in one batch (a replay that stays in the
  driver gets them in the reply instead), and returns the step and item counts, the
  finished episodes and the actor's own metrics;
* the **replay shards** (K Ray actor processes, ``ReplayShard`` in ``replay_shards``, default
  K = 1) each hold a replay built from the spec; worker i's writes go to shard i mod K. The
  learner's ``replay`` is swapped for a ``ShardedReplay`` proxy that samples every shard and
  sends new priorities back to the shard of each key (see that module). A replay without
  ``add_items``/``sample``/``update_priorities`` (e.g. DQN's uniform replay) stays in the
  driver, and ``--replay-shards`` above 1 is then an error;
* the **driver** (the ``agentos learn`` process) keeps the learner and the loop's counters;
  with ``--learner-actor`` the learner runs in a ``LearnerWorker`` Ray process instead
  (``--learner-gpu``: one with a GPU) that samples the shards itself, and the driver tells it
  how many updates are due (see ``remote_learner``).
  It counts the steps and items of each chunk a worker reports, runs the learner updates
  that are due under the samples-per-insert ratio (the same rule as the
  loop: ``floor((env_steps - min_replay_size) * samples_per_insert / batch_size)`` updates),
  sends variables to the workers through the object store every ``sync_every`` learner calls,
  has the **evaluator** (``EvaluationWorker``, a Ray actor process with its own environment
  and actor) play the evaluation episodes with the learner's current variables, writes every
  metric to the one MLflow run and checkpoints. Each worker has ``PIPELINE`` chunks queued,
  so it acts on while the driver takes in and learns on its last one; the next chunk is
  queued after the variables that learning produced. Acting never waits for learning, and
  learning only runs the updates that the steps received make due, so there is no deadlock.

Differences from the single-process layout, by design:

* every worker steps ``environment.num_envs`` copies, so N workers act in N times as many
  environments, and the Ape-X epsilon ladder spans each worker's copies;
* a worker acts with variables up to ``PIPELINE - 1`` chunks (of ``STEPS_PER_CALL`` vector
  steps) staler than the single-process actor;
* checkpoints hold the counters, the learner, the replay (every shard's state, gathered) and
  the driver's components; the workers' episodes in progress, open sequences and actor state
  (exploration rngs, Agent57 bandits and RND normalisers) are not saved: a resumed run
  starts new episodes in fresh workers, and what the workers had not yet sent is lost (at
  most one chunk each).

Where each part lives (this module re-exports their names):

* ``workers``: ``EnvironmentWorker``, ``EvaluationWorker``, ``ReplayCollector``, ``ChunkResult``,
  ``insert_writes`` (the worker side);
* ``driver``: ``RayLayout``, the driver loop (``learn``), ``STEPS_PER_CALL``, ``PIPELINE``;
* ``processes``: ``RayProcesses``, starting, replacing (fault tolerance) and stopping the
  run's worker, shard, evaluator and learner processes;
* ``cluster``: ``check_layout``, starting/joining Ray on loopback (``LOOPBACK_ENV``), shutdown;
* ``replay_shards`` and ``remote_learner``: the replay shards and the learner process.

"""

from __future__ import annotations

from agentos.runtime.layouts.cluster import LOOPBACK_ENV, OBJECT_STORE_BYTES, check_layout
from agentos.runtime.layouts.driver import PIPELINE, STEPS_PER_CALL, RayLayout
from agentos.runtime.layouts.processes import (
    MAX_FAILED_STARTS,
    WORKER_START_TIMEOUT_S,
    RayProcesses,
)
from agentos.runtime.layouts.workers import (
    ChunkResult,
    EnvironmentWorker,
    EvaluationWorker,
    ReplayCollector,
    insert_writes,
    worker_seed,
)

__all__ = [
    "LOOPBACK_ENV",
    "MAX_FAILED_STARTS",
    "OBJECT_STORE_BYTES",
    "PIPELINE",
    "STEPS_PER_CALL",
    "WORKER_START_TIMEOUT_S",
    "ChunkResult",
    "EnvironmentWorker",
    "EvaluationWorker",
    "RayLayout",
    "RayProcesses",
    "ReplayCollector",
    "check_layout",
    "insert_writes",
    "worker_seed",
]
