"""The learning runtime: role interfaces, the loop, checkpoints and layouts.

Importing it registers the ``loop:`` section's parameters (``LoopParams``) with the component
system, which knows nothing of the runtime otherwise.
"""

from agentos.components.sections import register_loop_params
from agentos.runtime.loop import LoopParams

register_loop_params(LoopParams)
