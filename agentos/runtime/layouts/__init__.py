"""Layouts: where the parts of one agent run.

* the single-process layout is ``agentos.runtime.loop.Loop`` itself (the default);
* ``ray_layout``: N environment-worker processes act, the driver keeps the replay, the
  learner, evaluation, tracking and checkpoints (``agentos learn --actors N``).

The agents' code is the same in every layout. Nothing here imports Ray at module import time.
"""
