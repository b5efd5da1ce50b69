"""Does a checkpoint fit the agent the spec builds now?

The common workflow "train, change something (``network.hidden_sizes``, the environment),
then ``run`` or ``learn --resume``" used to die in a flax ``ScopeParamShapeError``. Before a
checkpoint is loaded, the trained components' array shapes are compared with freshly built
ones; when they differ, the message says what differs (parameters and environment recorded
in the checkpoint, else the arrays) and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agentos.errors import CheckpointError

TRAINED_ROLES = ("learner", "network")
"""Components whose arrays must match the checkpoint's (actor, replay state may change)."""
RENDER_ONLY = ("render_mode",)
"""Parameters that change how episodes are shown, never what was trained (``run --video``
sets ``environment.render_mode``): not differences, and never a value to go back to."""
MAX_LISTED = 6


def render_only(key: str) -> bool:
    """Whether the flat parameter key (or ``-p`` override ``key=value``) only changes how
    episodes are shown (``environment.render_mode``)."""
    return key.split("=", 1)[0].strip().rpartition(".")[2] in RENDER_ONLY


def _text(value: Any) -> str:
    try:
        return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))
    except (TypeError, ValueError):
        return str(value)


def param_differences(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple]:
    """{key: (checkpoint value, current value)} for flat parameter keys that differ."""
    out = {}
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<unset>"), current.get(key, "<unset>")
        if _text(a) != _text(b):
            out[key] = (a, b)
    return out


def check_checkpoint_fits(
    state: dict[str, Any],
    path: Path,
    components: dict[str, Any],
    roles: dict[str, str],
    current_params: dict[str, Any],
    current_env: str,
    resume: bool,
) -> None:
    """Refuse (CheckpointError) a checkpoint whose trained arrays do not fit ``components``.

    ``components``/``roles``: the freshly built components by name and their roles;
    ``current_params``: the flat resolved parameters now; ``current_env``: the env label.
    """
    saved_components = state["loop"]["components"]
    shapes: list[str] = []
    for name, component in components.items():
        if roles.get(name) not in TRAINED_ROLES or name not in saved_components:
            continue
        state_dict = getattr(component, "state_dict", None)
        if state_dict is None:
            continue
        # state a component holds only at times (a learner's update in flight) is not part
        # of what the arrays must fit
        optional = getattr(component, "optional_state", ())
        saved, fresh = (_without(s, optional) for s in (saved_components[name], state_dict()))
        shapes += [f"components.{name}{d}" for d in shape_differences(saved, fresh)]
    if not shapes:
        return
    lines = []
    saved_env = state.get("env")
    if saved_env is not None and str(saved_env) != current_env:
        lines.append(f"environment: {saved_env} in the checkpoint, {current_env} now")
    changed = param_differences(dict(state.get("params") or {}), current_params)
    changed = {k: v for k, v in changed.items() if not k.startswith("loop.") and not render_only(k)}
    for key, (old, new) in list(changed.items())[:MAX_LISTED]:
        lines.append(f"{key}: {_text(old)} in the checkpoint, {_text(new)} now")
    more = len(changed) - MAX_LISTED
    if not lines or not state.get("params"):
        lines += [f"array {d}" for d in shapes[:MAX_LISTED]]
        more = len(shapes) - MAX_LISTED
    listed = "; ".join(lines) + (f"; ... and {more} more" if more > 0 else "")
    # Parameters only the checkpoint has belong to components the spec no longer has (an
    # other bundle installed since): no -p brings those back.
    gone = [key for key, (_, new) in changed.items() if new == "<unset>"]
    back = " ".join(
        f"-p {key}={_text(old)}"
        for key, (old, new) in list(changed.items())[:MAX_LISTED]
        if "<unset>" not in (old, new)
    )
    verb = "learn --resume" if resume else "run"
    fix = (
        "start a new run with `agentos learn` (without --resume) to train the agent as the "
        "spec is now"
        if resume
        else "train the agent as the spec is now with `agentos learn`"
    )
    if gone:
        fix += (
            ", or install again the components it was trained with (it has parameters no "
            f"component of the spec has: {', '.join(gone[:3])}; `agentos show` lists the "
            "components now)"
        )
    elif back:
        fix += f", or go back to the checkpoint's values: `agentos {verb} {back}`"
    elif saved_env is not None and str(saved_env) != current_env:
        fix += f", or install the checkpoint's environment again ({saved_env})"
    raise CheckpointError(
        f"the checkpoint was trained for a different agent than the spec builds now: {listed}",
        where=str(path),
        fix=fix,
    )


def shape_differences(saved: Any, fresh: Any, path: str = "") -> list[str]:
    """Where two state trees differ in structure: keys, array shapes or dtypes (not values).

    Used before loading a checkpoint into freshly built components, so that a changed
    network (``hidden_sizes``) or environment is reported instead of failing inside flax.
    """
    if isinstance(saved, dict) and isinstance(fresh, dict):
        only_saved = sorted(set(saved) - set(fresh), key=str)
        only_fresh = sorted(set(fresh) - set(saved), key=str)
        out = []
        if only_saved:
            out.append(f"{path or '/'}: only in the checkpoint: {', '.join(map(str, only_saved))}")
        if only_fresh:
            out.append(f"{path or '/'}: only in the spec: {', '.join(map(str, only_fresh))}")
        for key in saved:
            if key in fresh:
                out += shape_differences(saved[key], fresh[key], f"{path}/{key}")
        return out
    if isinstance(saved, (list, tuple)) and isinstance(fresh, (list, tuple)):
        if len(saved) != len(fresh):
            return [f"{path}: {len(saved)} entries in the checkpoint, {len(fresh)} in the spec"]
        return [
            d
            for i, (a, b) in enumerate(zip(saved, fresh, strict=True))
            for d in shape_differences(a, b, f"{path}[{i}]")
        ]
    if hasattr(saved, "shape") and hasattr(fresh, "shape"):
        a, b = np.asarray(saved), np.asarray(fresh)
        if a.shape != b.shape or a.dtype != b.dtype:
            return [f"{path}: shape {a.shape} {a.dtype} in the checkpoint, {b.shape} {b.dtype} now"]
    return []


def _without(state: Any, keys: tuple[str, ...]) -> Any:
    """``state`` less the top-level ``keys`` when it is a dictionary."""
    if not isinstance(state, dict) or not keys:
        return state
    return {k: v for k, v in state.items() if k not in keys}
