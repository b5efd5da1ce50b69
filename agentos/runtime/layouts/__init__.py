"""Layouts: where the parts of one agent run.

* the single-process layout is ``agentos.runtime.loop.Loop`` itself (the default);
* ``ray_layout``: N environment-worker processes act, the driver keeps the replay, the
  learner, evaluation, tracking and checkpoints (``agentos learn --actors N``); its parts are
  ``workers``, ``driver``, ``processes`` and ``cluster`` (with ``replay_shards`` and
  ``remote_learner``).

A layout drives the loop through its public interface (``Loop.tally``, ``Loop.learn_due``,
``Loop.record_evaluation``, ``Loop.forget_episodes``, ``Loop.state_dict``), so a new layout is
a new module here, not a copy of the loop.

The agents' code is the same in every layout. Nothing here imports Ray at module import time.
"""
