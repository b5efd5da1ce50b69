"""Starting, joining and stopping Ray for a run of the Ray layout (``driver``).

Without ``--address`` a local Ray instance is started for the run and shut down after it
(Ctrl-C included), so no process the run started stays behind. It listens on 127.0.0.1 only:
Ray binds every interface unless its "cluster" mode is off, which is what
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` does; ray reads it when ``ray`` is first imported, so
``start_ray`` sets it before importing ray and, if ray was imported earlier in the process,
sets the constant it was read into (checked with ``ss -ltnp``: gcs_server, raylet, the workers
and the driver listen on 127.0.0.1 or ::ffff:127.0.0.1; with neither, on ``::``). With
``--address`` the run joins that cluster: every node needs agentos installed and the agent
folder at the same path.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import warnings
from collections.abc import Callable
from typing import Any

from agentos.errors import AgentOSError, ParameterError

log = logging.getLogger(__name__)

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Set to 0, Ray treats the machine as a one-node setup and binds 127.0.0.1 only."""
OBJECT_STORE_BYTES = 512 * 2**20
"""Shared memory of the local Ray instance's object store (chunks and variables are small)."""


def check_layout(
    actors: int,
    address: str | None,
    replay_shards: int = 1,
    learner_actor: bool = False,
    learner_gpu: bool = False,
) -> None:
    """Raise an AgentOSError (exit 2, with a fix) for an impossible ``--actors``,
    ``--replay-shards``, ``--learner-actor``/``--learner-gpu`` or an unreachable ``--address``,
    before a run starts."""
    if actors < 0:
        raise ParameterError(
            f"--actors must be 0 (one process) or a positive number of worker processes, "
            f"got {actors}",
            fix="use --actors 2 for two environment workers, or leave it out",
        )
    if replay_shards < 1:
        raise ParameterError(
            f"--replay-shards must be a positive number of replay processes, got {replay_shards}",
            fix="use --replay-shards 1 (the default) or more",
        )
    if replay_shards > 1 and actors == 0:
        raise ParameterError(
            "--replay-shards splits the replay over Ray processes, which only the distributed "
            "layout uses",
            fix="add --actors N, or leave out --replay-shards",
        )
    if (learner_actor or learner_gpu) and actors == 0:
        flag = "--learner-gpu" if learner_gpu else "--learner-actor"
        raise ParameterError(
            f"{flag} puts the learner in a Ray process, which only the distributed layout uses",
            fix=f"add --actors N, or leave out {flag}",
        )
    if address is None:
        _check_local_actors(actors)
        return
    if actors == 0:
        raise ParameterError(
            "--address joins a Ray cluster, which only the distributed layout uses",
            fix="add --actors N, or leave out --address",
        )
    host_port = address.removeprefix("ray://")
    if address in ("auto", "local") or ":" not in host_port:
        if address not in ("auto", "local"):
            raise ParameterError(
                f"--address {address!r} is not HOST:PORT",
                fix="give the address `ray start --head` printed, e.g. 127.0.0.1:6379",
            )
        return
    host, _, port = host_port.rpartition(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ParameterError(
            f"--address {address!r}: the port {port!r} is not a number from 1 to 65535",
            fix="give the address `ray start --head` printed, e.g. 127.0.0.1:6379",
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3.0):
            pass
    except (OSError, ValueError) as e:
        raise AgentOSError(
            f"cannot reach a Ray cluster at {address} ({e})",
            fix="start one with `ray start --head --node-ip-address 127.0.0.1` and pass the "
            "address it prints, or leave out --address to start a local Ray for the run",
        ) from None


LOCAL_ACTORS_PER_CPU = 4
"""More local workers than this per CPU core only share the cores (each a process that
imports JAX and builds the agent): a larger --actors is most likely a typo."""


def _check_local_actors(actors: int) -> None:
    """Refuse a local Ray with far more environment workers than this machine has cores."""
    cpus = os.cpu_count() or 1
    most = LOCAL_ACTORS_PER_CPU * cpus
    if actors > most:
        raise ParameterError(
            f"--actors {actors} would start {actors} worker processes on this machine, which "
            f"has {cpus} CPU cores (each worker imports JAX and builds the agent)",
            where="--actors",
            fix=f"use at most {most} here (more copies per worker: -p environment.num_envs=N), "
            "or join a cluster with --address HOST:PORT",
        )


def start_ray(
    address: str | None, num_cpus: int, restore: list[Callable[[], None]]
) -> tuple[Any, bool]:
    """Start a local Ray bound to 127.0.0.1 (``address`` None, with ``num_cpus`` CPUs), join
    the cluster at ``address``, or use the instance this process already has. Returns the
    ``ray`` module and whether the run owns the instance (must shut it down); what must be
    undone when the run ends is appended to ``restore``."""
    sigterm = signal.getsignal(signal.SIGTERM)
    if address is None:
        old_env = os.environ.get(LOOPBACK_ENV)
        os.environ[LOOPBACK_ENV] = "0"
        restore.append(lambda: _restore_env(LOOPBACK_ENV, old_env))
    import ray
    import ray._private.ray_constants as ray_constants

    owns = False
    if ray.is_initialized():  # e.g. the caller joined a cluster itself: use it, keep it
        log.info("using the Ray instance this process already started")
    elif address is None:
        if getattr(ray_constants, "ENABLE_RAY_CLUSTER", False):
            # ray was imported before LOOPBACK_ENV was set, and read it then
            ray_constants.ENABLE_RAY_CLUSTER = False
            restore.append(lambda: setattr(ray_constants, "ENABLE_RAY_CLUSTER", True))
        with warnings.catch_warnings():
            # JAX warns of any fork; Ray's fork is followed by exec at once (subprocess)
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
                object_store_memory=OBJECT_STORE_BYTES,
                _node_ip_address="127.0.0.1",
            )
        owns = True
    else:
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as e:  # ConnectionError, TimeoutError, ValueError across versions
            raise AgentOSError(
                f"cannot join the Ray cluster at {address}: {e}",
                fix="check the address `ray start --head` printed and that the cluster "
                "runs the same ray version, or leave out --address",
            ) from None
        owns = True
    # ray.init makes SIGTERM exit at once; learn turns it into a checkpoint and a stop
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, sigterm)
    return ray, owns


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
