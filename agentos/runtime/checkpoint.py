"""Checkpoints: one msgpack file of plain state (dicts, lists, numpy arrays, scalars).

Files are written to a temporary name and renamed, so a ``kill -9`` mid-write leaves the
previous checkpoint intact. No pickle: a checkpoint from someone else cannot run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from agentos.components.compat import shape_differences as shape_differences
from agentos.errors import CheckpointError

_INT64 = (-(2**63), 2**63 - 1)


def _encode(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        value = int(obj)
        return value if _INT64[0] <= value <= _INT64[1] else {"__bigint__": str(value)}
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if obj is None or isinstance(obj, (str, bytes)):
        return obj
    if hasattr(obj, "__array__"):
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise CheckpointError(f"cannot checkpoint an object array of shape {arr.shape}")
        return {"__nd__": [arr.dtype.str, list(arr.shape), np.ascontiguousarray(arr).tobytes()]}
    raise CheckpointError(f"cannot checkpoint a value of type {type(obj).__name__}")


def _decode(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, dict):
        if "__dict__" in obj:
            return {_decode(k): _decode(v) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v) for v in obj["__tuple__"])
        if "__bigint__" in obj:
            return int(obj["__bigint__"])
        if "__nd__" in obj:
            dtype, shape, data = obj["__nd__"]
            return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
    return obj


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` atomically to ``path``; a failed write (a full disk) leaves the previous
    checkpoint as it was and no temporary file behind."""
    import msgpack

    path.parent.mkdir(parents=True, exist_ok=True)
    data = msgpack.packb(_encode(state), use_bin_type=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        kept = "the previous checkpoint is kept" if path.exists() else "no checkpoint was kept"
        raise CheckpointError(
            f"cannot write the checkpoint ({len(data):,} bytes): {e.strerror or e}; {kept}",
            where=str(path),
            fix="free disk space (or make the folder writable), then continue with "
            "`agentos learn --resume`",
        ) from e
    return path


def damaged_fix(path: Path) -> str:
    """The Fix line of an unreadable checkpoint: another one than ``path``."""
    other = "latest" if Path(path).stem == "best" else "best"
    return (
        f"use another checkpoint: `agentos run --checkpoint {other}`, or an earlier run's with "
        "`--checkpoint RUN_ID` / `agentos learn --resume --from RUN_ID` (see `agentos runs`); "
        "or start a new run with `agentos learn`"
    )


def load_checkpoint(path: Path) -> Any:
    """Read a checkpoint written by ``save_checkpoint``; a truncated or damaged file is a
    ``CheckpointError`` naming it."""
    import msgpack

    if not path.is_file():
        what = "is a folder" if path.is_dir() else "is not a regular file"
        raise CheckpointError(
            f"the checkpoint {what if path.exists() else 'does not exist'}",
            where=str(path),
            fix=damaged_fix(path),
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CheckpointError(
            f"cannot read the checkpoint: {e.strerror or e}", where=str(path), fix=damaged_fix(path)
        ) from None
    try:
        state = _decode(msgpack.unpackb(data, raw=False, strict_map_key=False))
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as e:
        raise CheckpointError(
            f"the checkpoint is unreadable ({len(data)} bytes; truncated or damaged: "
            f"{type(e).__name__}: {e})",
            where=str(path),
            fix=damaged_fix(path),
        ) from None
    return state


def load_run_checkpoint(path: Path) -> dict[str, Any]:
    """A learn run's checkpoint (seed, overrides, loop state); an empty map, a 1-byte file or
    any other file without a loop state is a ``CheckpointError`` naming it."""
    state = load_checkpoint(path)
    problem = _shape_problem(state)
    if problem:
        size = path.stat().st_size
        raise CheckpointError(
            f"not a complete agentos checkpoint ({size} bytes): {problem}",
            where=str(path),
            fix=damaged_fix(path),
        )
    return state


def _shape_problem(state: Any) -> str | None:
    """What is missing from a decoded checkpoint (None when it has what resume/run read)."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a mapping"
    loop = state.get("loop")
    if not isinstance(loop, dict):
        return "it has no 'loop' state"
    for key in ("counters", "components"):
        if not isinstance(loop.get(key), dict):
            return f"its loop state has no '{key}'"
    return None


def tree_differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two checkpoint trees differ (types, keys, shapes, dtypes or values); used to
    check that a resumed run ends exactly where an uninterrupted one does."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b), key=str)}"]
        return [d for k in a for d in tree_differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if type(a) is not type(b) or len(a) != len(b):
            return [f"{path}: {type(a).__name__}[{len(a)}] vs {type(b).__name__}[{len(b)}]"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in tree_differences(x, y, f"{path}[{i}]")
        ]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        same = a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
        return [] if same else [f"{path}: arrays differ"]
    return [] if type(a) is type(b) and a == b else [f"{path}: {a!r} vs {b!r}"]
