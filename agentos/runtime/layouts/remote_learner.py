"""The learner in its own Ray process (``learn --actors N --learner-actor``), on a GPU with
``--learner-gpu``.

``LearnerWorker`` (a Ray actor) builds the spec's learner and its network, with the replay
shards behind a ``ShardedReplay`` in place of its replay, so it samples the shards and sends
them new priorities itself; the driver only tells it how many updates are due. It starts from
the driver's learner state (so a fresh run starts from the single-process layout's initial
variables, and a resumed one from the checkpoint). ``RemoteLearner`` is what the driver's loop
holds in the learner's place: the same interface (``ready``, ``step``, ``get_variables``,
``state_dict``), each a call to that process.

With ``--learner-gpu`` the process asks Ray for one GPU (``num_gpus=1``); the cluster must have
one and JAX in that process must see it (a CUDA build of jaxlib on that node). The other
processes of the run keep JAX on the CPU, so they do not take the GPU's memory.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from typing import Any

from agentos.errors import AgentOSError
from agentos.runtime.layouts.partial_build import build_part, by_role, jax_on_cpu_only
from agentos.runtime.layouts.replay_shards import ShardedReplay

log = logging.getLogger(__name__)

LEARNER_DIED_FIX = (
    "continue from the last checkpoint with `agentos learn --resume` and the same options; "
    "the learner's logs are under /tmp/ray/session_latest/logs"
)


@dataclass(frozen=True)
class LearnerInfo:
    """Where the learner process runs."""

    pid: int
    """Its process id."""
    backend: str
    """JAX's default backend there: ``cpu`` or ``gpu``."""
    device: str
    """The device its updates run on, e.g. ``gpu:NVIDIA H100 80GB HBM3``."""
    batch_size: int
    """The learner's batch size (the loop's samples-per-insert rule needs it)."""


class LearnerWorker:
    """The learner process (made a Ray actor by the layout with ``ray.remote``)."""

    def __init__(
        self, agent_dir: str, overrides: list[str], seed: int, shard_handles: list[Any], gpu: bool
    ):
        import ray

        try:
            # Ctrl-C reaches the process group: the driver still needs the learner's state
            # for its last checkpoint, and stops this process itself afterwards.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not in the main thread
            pass
        if not gpu:
            jax_on_cpu_only()
        # a shard that dies is left out until the driver sends its replacement (set_shards)
        self.replay = ShardedReplay(shard_handles, ray.get, ray.exceptions.RayActorError)
        components, roles = build_part(agent_dir, overrides, seed, ("learner",), self.replay)
        self.learner = by_role(components, roles, "learner")

    def info(self) -> LearnerInfo:
        """Where this process runs its updates."""
        import jax

        device = jax.devices()[0]
        return LearnerInfo(
            pid=os.getpid(),
            backend=jax.default_backend(),
            device=f"{device.platform}:{device.device_kind}",
            batch_size=int(self.learner.batch_size),
        )

    def set_shards(self, shard_handles: list[Any]) -> None:
        """Sample these shard processes from now on (one was replaced)."""
        self.replay.handles = list(shard_handles)

    def ready(self) -> bool:
        """The learner's ``ready()``: the replay holds enough to sample a batch."""
        return bool(self.learner.ready())

    def step(self, num_updates: int) -> dict[str, float]:
        """Run ``num_updates`` updates; their mean metrics."""
        return self.learner.step(num_updates)

    def get_variables(self) -> Any:
        """The variables actors act with, as numpy arrays."""
        import jax

        return jax.device_get(self.learner.get_variables())

    def state_dict(self) -> dict[str, Any]:
        """The learner's checkpoint state."""
        return self.learner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from this learner state."""
        self.learner.load_state_dict(state)


class RemoteLearner:
    """The learner's stand-in in the driver: forwards every call to the ``LearnerWorker``."""

    role = "learner"

    def __init__(self, handle: Any, ray: Any, info: LearnerInfo):
        self.handle = handle
        self.info = info
        self.batch_size = info.batch_size
        self._ray = ray
        self._variables: Any = None

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return self._ray.get(getattr(self.handle, method).remote(*args))
        except self._ray.exceptions.RayActorError as e:
            raise AgentOSError(
                f"the learner process ({self.info.device}, pid {self.info.pid}) died: {e}",
                fix=LEARNER_DIED_FIX,
            ) from None

    def ready(self) -> bool:
        """Whether the learner can take a step."""
        return bool(self._call("ready"))

    def step(self, num_updates: int = 1) -> dict[str, float]:
        """Run ``num_updates`` updates in the learner process."""
        self._variables = None
        return self._call("step", num_updates)

    def get_variables(self) -> Any:
        """The learner's current variables (fetched once per step)."""
        if self._variables is None:
            self._variables = self._call("get_variables")
        return self._variables

    def state_dict(self) -> dict[str, Any]:
        """The learner's checkpoint state, from its process."""
        return self._call("state_dict")

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Send a learner state to its process."""
        self._variables = None
        self._call("load_state_dict", state)

    def close(self) -> None:
        """Nothing: the layout stops the process."""
