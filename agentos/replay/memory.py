"""Replay memory: will a buffer fit, and how much of it goes into checkpoints.

Buffers allocate their storage at the first insert, when the shapes and dtypes of an item
are known. Before that allocation, ``check_fits`` compares the buffer's bytes with the
memory this machine has available (Linux ``MemAvailable``) and stops with a clear error,
naming ``replay.capacity`` and a capacity that fits, instead of a numpy MemoryError (or the
kernel's OOM killer) minutes into a run.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from agentos.errors import ParameterError

MEMORY_FRACTION = 0.8
"""The share of the available memory one replay may take."""


def available_bytes() -> int | None:
    """Memory available to new allocations (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def human(nbytes: float) -> str:
    """``nbytes`` as e.g. 5.6 GB."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(nbytes) < 1000 or unit == "TB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"


def item_bytes(items: dict[str, Any]) -> int:
    """Bytes of one item of a batch ``{key: [B, ...] array}`` (nested dicts included)."""
    total = 0
    for value in items.values():
        if isinstance(value, dict):
            total += item_bytes(value)
        else:
            array = np.asarray(value)
            total += array.dtype.itemsize * int(np.prod(array.shape[1:]))
    return total


def check_fits(capacity: int, per_item: int, what: str, available: int | None = None) -> None:
    """Raise ParameterError if ``capacity`` items of ``per_item`` bytes would not fit."""
    available = available_bytes() if available is None else available
    need = capacity * per_item
    if available is None or need <= MEMORY_FRACTION * available:
        return
    fits = max(1, int(MEMORY_FRACTION * available // max(per_item, 1)))
    raise ParameterError(
        f"the {what} would need {human(need)} ({capacity:,} items of {human(per_item)}), "
        f"more than {MEMORY_FRACTION:.0%} of the {human(available)} of memory available",
        where="replay.capacity",
        fix=f"set a capacity that fits, e.g. -p replay.capacity={fits}",
    )


def check_sequences_fit(
    replay: Any, observation_space: Any, sequence_length: int, available: int | None = None
) -> None:
    """``check_fits`` before the first insert: ``replay.capacity`` sequences of
    ``sequence_length`` observations (a lower bound of their bytes, the other fields are
    small), so an image environment too big for the replay's capacity stops at start."""
    capacity = getattr(replay, "capacity", None)
    shape = getattr(observation_space, "shape", None)
    dtype = getattr(observation_space, "dtype", None)
    if capacity is None or shape is None or dtype is None:
        return  # e.g. a Ray worker's stand-in replay, or a space without a fixed shape
    per_step = np.dtype(dtype).itemsize * int(np.prod(shape))
    check_fits(int(capacity), sequence_length * per_step, "sequence replay", available)
