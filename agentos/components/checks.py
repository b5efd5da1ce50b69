"""Range checks on numbers a user gives: loop parameters, step and episode counts, seeds.

Each failure is a ``ParameterError`` naming the key (and file) and the fix, so the CLI
prints one message and exits 2 instead of a traceback deep inside numpy or gymnasium.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from agentos.errors import ParameterError

# loop parameter -> (smallest allowed value, what it means).
LOOP_MINIMUMS: dict[str, tuple[float, str]] = {
    "samples_per_insert": (0, "0 acts only"),
    "min_replay_size": (0, "0 learns from the first step"),
    "learn_every": (1, "env steps between learner calls"),
    "eval_every": (0, "0 evaluates only at the end"),
    "eval_episodes": (1, "episodes per evaluation"),
    "checkpoint_every": (0, "0 checkpoints only at the end"),
    "checkpoint_seconds": (0, "0 checkpoints by env steps only"),
    "checkpoint_overhead": (0, "0 never postpones a checkpoint"),
    "log_every": (1, "env steps between metric records"),
    "sync_every": (1, "learner calls between variable syncs"),
}


# loop parameter -> (largest allowed value, why).
LOOP_MAXIMUMS: dict[str, tuple[float, str]] = {
    "samples_per_insert": (
        1e6,
        "a learner sample per inserted step is 1, DQN's 32 samples per step are 32",
    ),
    "checkpoint_overhead": (1, "a share of the wall time: 0.05 is 5%"),
}


def require_at_least(name: str, value: Any, minimum: float, *, where: str, fix: str) -> None:
    """Refuse ``value`` below ``minimum`` (or NaN) with a message naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return  # types are checked where the parameters are built
    if math.isnan(value) or value < minimum:
        raise ParameterError(f"{name} must be >= {minimum}, got {value}", where=where, fix=fix)


def check_loop_params(loop: Any, where: str) -> None:
    """Check the ``loop:`` section (a ``LoopParams``) before anything runs."""
    for key, (minimum, meaning) in LOOP_MINIMUMS.items():
        if not hasattr(loop, key):
            continue
        require_at_least(
            key,
            getattr(loop, key),
            minimum,
            where=f"{where}.{key}",
            fix=f"set loop.{key} to {minimum} or more ({meaning}) in agentos.yaml, "
            f"or override it with -p loop.{key}=VALUE",
        )
    for key, (maximum, meaning) in LOOP_MAXIMUMS.items():
        value = getattr(loop, key, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > maximum:
            raise ParameterError(
                f"{key} must be <= {maximum:g}, got {value:g}",
                where=f"{where}.{key}",
                fix=f"set loop.{key} to at most {maximum:g} ({meaning}) in agentos.yaml, or "
                f"override it with -p loop.{key}=VALUE",
            )


_RANGE_MESSAGE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\b.*\bmust be\b")
_CHOICE_MESSAGE = re.compile(r"^\s*unknown ([A-Za-z_][A-Za-z0-9_]*) ")


def parameter_fix(message: str, where: str) -> str:
    """A Fix line for a component's own parameter check (``capacity must be >= 1, got 0``).

    ``where`` is ``FILE: components.SLOT.params``; the fix names the key to change there and
    the ``-p`` override that changes it for one command.
    """
    slot = (
        where.rsplit("components.", 1)[-1].split(".params", 1)[0] if "components." in where else ""
    )
    match = _RANGE_MESSAGE.match(message) or _CHOICE_MESSAGE.match(message)
    if match is None:
        return (
            f"change the parameter the message names under components.{slot}.params in "
            f"agentos.yaml, or override it with -p {slot}.NAME=VALUE"
            if slot
            else "change the parameter the message names to an allowed value"
        )
    key = match.group(1)
    dotted = f"{slot}.{key}" if slot else key
    return (
        f"change {dotted} in agentos.yaml (components.{slot}.params.{key}) to an allowed value, "
        f"or override it with -p {dotted}=VALUE"
        if slot
        else f"change {key} to an allowed value"
    )


COUNT_MINIMUMS: dict[str, tuple[int, str]] = {
    "steps": (1, "train for at least 1 step: --steps N"),
    "updates": (1, "take at least 1 learner update: --steps N"),
    "episodes": (1, "evaluate at least 1 episode: -e N"),
    "seed": (0, "use a seed of 0 or more (gymnasium needs it)"),
    "video_every": (0, "give 0 (no videos) or a positive number of env steps"),
    "actors": (0, "give 0 (one process) or a positive number of worker processes"),
    "replay_shards": (1, "give 1 or more replay processes"),
}
"""Whole-number arguments of the Python API, with their smallest values."""


def check_counts(**values: Any) -> None:
    """The Python API's own checks of learn/run arguments (the CLI checks them too): each
    given one is a whole number (not None, a bool or a string) at least its minimum."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            example = "0" if name in ("seed", "video_every", "actors") else "1000"
            raise ParameterError(
                f"{name} must be a whole number, got {value!r} ({type(value).__name__})",
                where=name,
                fix=f"pass {name} as an int, e.g. {name}={example}",
            )
        minimum, fix = COUNT_MINIMUMS.get(name, (0, f"give {name} >= 0"))
        require_at_least(name, int(value), minimum, where=name, fix=fix)


def check_batch_fits(batch_size: int, replay: Any, *, needed: int | None = None) -> None:
    """Refuse a learner whose first update needs more items than its replay can ever hold
    (``needed``, default ``batch_size``): it would act for the whole run and never learn.
    Only replays with a ``capacity`` parameter are checked (a dataset's size is checked
    where it is read)."""
    capacity = getattr(getattr(replay, "params", None), "capacity", None)
    need = int(batch_size if needed is None else needed)
    if isinstance(capacity, int) and not isinstance(capacity, bool) and need > capacity:
        why = f"learner.batch_size={batch_size}" + (
            f" (and min_replay_sequences: {need} items)" if need != batch_size else ""
        )
        raise ParameterError(
            f"{why} is more than replay.capacity={capacity} can hold: the learner would never "
            "take an update",
            fix=f"raise -p replay.capacity to {need} or more, or lower -p learner.batch_size",
        )


def check_optimizer_params(params: Any) -> None:
    """Refuse an Adam epsilon <= 0 (Adam's first update divides by sqrt(v) + eps, so the
    loss turns NaN and the "diverged" fix would point at the step size), and a negative
    gradient clip or Huber threshold (0 means no clipping / the squared loss)."""
    eps = getattr(params, "adam_eps", None)
    if eps is not None and not eps > 0:
        raise ParameterError(
            f"adam_eps must be > 0, got {eps}",
            fix="Adam's epsilon keeps its denominator above 0: use 1e-8 (DQN) or 1e-3 (R2D2)",
        )
    for name in ("max_grad_norm", "huber_delta"):
        value = getattr(params, name, None)
        if value is not None and not value >= 0:
            meaning = "no clipping" if name == "max_grad_norm" else "the squared loss"
            raise ParameterError(
                f"{name} must be >= 0 (0: {meaning}), got {value}",
                fix=f"give a positive {name}, or 0 for {meaning}",
            )


_NOT_GIVEN: Any = object()


def check_api_arguments(
    *,
    path: Any = _NOT_GIVEN,
    overrides: Any = None,
    resume: Any = False,
    tags: Any = None,
    checkpoint: Any = None,
    trace: Any = None,
    hooks: Any = None,
) -> None:
    """Types of the Python API's other arguments, refused with what to pass (a string of
    overrides was read character by character, ``resume=1`` was taken for "no")."""
    import os

    def refuse(name: str, value: Any, want: str, example: str) -> ParameterError:
        return ParameterError(
            f"{name} must be {want}, got {value!r} ({type(value).__name__})",
            where=name,
            fix=f"pass e.g. {name}={example}",
        )

    if path is not _NOT_GIVEN and not isinstance(path, (str, os.PathLike)):
        raise refuse("path", path, "an agent folder (str or Path)", "'my_agent'")
    if overrides is not None and (
        not isinstance(overrides, (list, tuple)) or not all(isinstance(o, str) for o in overrides)
    ):
        raise refuse("overrides", overrides, "a list of 'SLOT.KEY=VALUE' strings",
                     "['learner.learning_rate=0.001']")  # fmt: skip
    if not isinstance(resume, (bool, str)):
        raise refuse("resume", resume, "True, False or a run id", "True")
    if tags is not None and not (
        isinstance(tags, Mapping) and all(isinstance(k, str) for k in tags)
    ):
        raise refuse("tags", tags, "a dict of str keys", "{'experiment': 'a'}")
    if checkpoint is not None and not isinstance(checkpoint, str):
        raise refuse("checkpoint", checkpoint, "'latest', 'best' or a run id", "'latest'")
    if trace is not None and not isinstance(trace, (str, os.PathLike)):
        raise refuse("trace", trace, "a CSV file path", "'trace.csv'")
    called = ("on_metrics", "on_progress", "should_stop")  # on_checkpoint: where it has one
    if hooks is not None and not all(callable(getattr(hooks, m, None)) for m in called):
        raise refuse("hooks", hooks, "an object with on_metrics, on_progress and should_stop",
                     "MyHooks() with class MyHooks(agentos.runtime.loop.Hooks)")  # fmt: skip
