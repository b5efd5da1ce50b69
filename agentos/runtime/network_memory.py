"""Will a network's arrays fit? Checked when the network component is built, before its
``init`` allocates anything.

A layer width typed one digit too long (``-p network.hidden_sizes=[1000000]``) or an absurd
one (``lstm_size=10**9``, ``hidden_sizes=[9223372036854775807]``) used to end in a JAX
traceback (``random bits array of size exceeding 2 ** 64``) or an allocation of hundreds of
GB. ``jax.eval_shape`` runs ``init`` on abstract values (no memory, a fraction of a second),
so the parameters' bytes are known before any array exists; a network whose training state
would not fit is refused with the size parameters that made it so.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
from typing import Any

from agentos.errors import ParameterError
from agentos.replay.memory import MEMORY_FRACTION, available_bytes, human

log = logging.getLogger(__name__)

TRAINING_COPIES = 5
"""Copies of the parameters that training holds: the parameters, the target network's, the
gradients and Adam's two moments (the actor's copy and checkpoints come on top)."""
USUAL_WIDTHS = "16-1024 units a layer"


def parameter_bytes(network: Any) -> int | None:
    """Bytes of the arrays ``network.init`` would return, computed without allocating them;
    None if ``init`` cannot be traced abstractly (a network of the user's own that calls
    numpy, say): such a network is not checked."""
    import jax

    try:
        shapes = jax.eval_shape(network.init, jax.random.PRNGKey(0))
    except Exception as e:  # not traceable abstractly: leave it to the real init
        log.debug("could not compute %s's parameter shapes: %s", type(network).__name__, e)
        return None
    total = 0
    for leaf in jax.tree_util.tree_leaves(shapes):
        shape = getattr(leaf, "shape", None)
        dtype = getattr(leaf, "dtype", None)
        if shape is None or dtype is None:
            continue
        total += math.prod(int(d) for d in shape) * int(dtype.itemsize)
    return total


def device_bytes() -> int | None:
    """Memory of JAX's default device where it reports one (a GPU), else None."""
    import jax

    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # CPU backends report nothing
        return None
    limit = stats.get("bytes_limit")
    if not isinstance(limit, int):
        return None
    return max(0, limit - int(stats.get("bytes_in_use", 0)))


LARGE = 4096
"""A size above this is named as the likely cause (the bundles' widths are 64-512)."""


def size_parameters(params: Any) -> list[tuple[str, Any, Any]]:
    """``(name, value, default)`` of the network's integer parameters and integer lists
    (layer widths, sizes) most likely to blame: those above ``LARGE``, else the three
    largest; the largest first (of equal ones, those changed from their defaults)."""
    if not dataclasses.is_dataclass(params):
        return []
    found: list[tuple[int, bool, str, Any, Any]] = []
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        values = value if isinstance(value, (tuple, list)) else (value,)
        if not values or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values
        ):
            continue
        default = None if f.default is dataclasses.MISSING else f.default
        changed = default is None or _shown(value) != _shown(default)
        found.append((max(int(v) for v in values), changed, f.name, value, default))
    found.sort(key=lambda item: (-item[0], not item[1]))
    large = [item for item in found if item[0] > LARGE]
    return [(name, value, default) for _, _, name, value, default in (large or found[:3])]


MANY_ACTIONS = 100_000
"""A Discrete action count above this is named as the cause (Atari has 18)."""


def _action_count(network: Any) -> int | None:
    """The number of discrete actions the network outputs values for (None: not Discrete)."""
    space = getattr(getattr(network, "context", None), "action_space", None)
    n = getattr(space, "n", None)
    return int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else None


def _largest(value: Any) -> int:
    return max(int(v) for v in value) if isinstance(value, (tuple, list)) else int(value)


def _shown(value: Any) -> str:
    """A parameter value as ``-p`` takes it (``[256,256]``)."""
    if isinstance(value, (tuple, list)):
        return "[" + ",".join(str(int(v)) for v in value) + "]"
    return str(value)


def check_network_fits(
    network: Any, name: str, *, available: int | None = None, device: int | None = None
) -> None:
    """Raise ParameterError if ``network``'s training state (``TRAINING_COPIES`` copies of
    its parameters) would take more than ``MEMORY_FRACTION`` of the memory available (the
    host's, and the accelerator's where JAX reports it). ``name``: its name in the spec."""
    nbytes = parameter_bytes(network)
    if nbytes is None:
        return
    host = available_bytes() if available is None else available
    accel = device_bytes() if device is None else device
    limits = [(b, what) for b, what in ((host, "memory"), (accel, "accelerator memory")) if b]
    if not limits:
        return
    limit, what = min(limits)
    need = TRAINING_COPIES * nbytes
    if need <= MEMORY_FRACTION * limit:
        return
    sizes = size_parameters(getattr(network, "params", None))
    actions = _action_count(network)
    if actions is not None and actions > MANY_ACTIONS:
        # One output per action: the action space, not the widths, is what to change.
        large = [item for item in sizes if _largest(item[1]) > LARGE]
        raise ParameterError(
            f"the network would need {_amount(need)} to train ({_amount(nbytes)} of "
            f"parameters), more than {MEMORY_FRACTION:.0%} of the {human(limit)} of {what} "
            f"available: it outputs one value for each of the environment's {actions:,} "
            "discrete actions"
            + (
                f" (and {', '.join(f'{name}.{k}={_shown(v)}' for k, v, _ in large)})"
                if large
                else ""
            ),
            fix="use fewer actions: DiscretizeAction makes bins ** dimensions of them (bins 3 "
            "on 4 dimensions: 81), so lower its bins in environment.wrappers, or choose an "
            "environment with fewer",
        )
    listed = ", ".join(f"{name}.{key}={_shown(value)}" for key, value, _ in sizes)
    examples = " ".join(
        f"-p {name}.{key}={_shown(default)}" for key, _, default in sizes if default is not None
    )
    fix = (
        f"lower {' and '.join(f'{name}.{key}' for key, _, _ in sizes)} in agentos.yaml, or "
        f"override {'them' if len(sizes) > 1 else 'it'} for one command"
        + (f" (the default{'s' if len(sizes) > 1 else ''}: {examples})" if examples else "")
        + f"; {USUAL_WIDTHS} are usual, and "
        f"{human(MEMORY_FRACTION * limit / TRAINING_COPIES)} of parameters is the most that "
        "fits here"
        if sizes
        else f"make {name} smaller: its parameters may take at most "
        f"{human(MEMORY_FRACTION * limit / TRAINING_COPIES)} here"
    )
    raise ParameterError(
        f"the network would need {_amount(need)} to train ({_amount(nbytes)} of parameters, "
        f"{TRAINING_COPIES} copies: parameters, target, gradients, optimiser moments), more "
        f"than {MEMORY_FRACTION:.0%} of the {human(limit)} of {what} available"
        + (f" ({listed})" if listed else ""),
        fix=fix,
    )


def _amount(nbytes: int) -> str:
    """``human`` for sizes that may be beyond any machine (10**20 bytes and more)."""
    if nbytes < 10**15:
        return human(nbytes)
    return f"{nbytes:.1e} bytes"
