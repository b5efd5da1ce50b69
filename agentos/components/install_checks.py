"""What ``install`` checks before it changes anything: requirement strings, gym ids, the keys
of registry entries and bundles; and the settings another bundle left behind.

Registry entries are written by other people. Their ``requirements`` go to pip, so each
must be a valid PEP 508 requirement (``name[extras] (specifier) ; marker`` or
``name @ url``): never an option (``--no-index``), a path or anything else pip would read
as an instruction. They are passed after ``--`` and shown to the user before pip runs.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agentos.errors import AgentOSError, RegistryError

logger = logging.getLogger(__name__)

Approve = Callable[[list[str]], bool]
"""Asked with the exact requirement strings pip would install; True lets pip run."""


def check_requirements(requirements: Iterable[str], origin: str) -> list[str]:
    """The requirement strings, each checked to be a valid PEP 508 requirement."""
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for text in requirements:
        text = str(text)
        problem = None
        if not text.strip() or text.lstrip().startswith("-"):
            problem = "an option, not a requirement"
        else:
            try:
                Requirement(text)
            except InvalidRequirement as e:
                problem = str(e).splitlines()[0]
        if problem is not None:
            raise AgentOSError(
                f"pip could not install {text!r}: not a valid requirement (PEP 508): {problem}",
                where=f"{origin}: requirements",
                fix="a registry's requirements must be package requirements such as "
                "'numpy>=1.26' or 'name @ https://...'; correct the registry entry or ask "
                "its author to",
            )
        out.append(text)
    return out


def approve_or_refuse(requirements: list[str], approve: Approve | None) -> None:
    """Ask ``approve`` before pip installs ``requirements``; refuse when it says no.

    With no ``approve`` (the Python API) the packages are logged and installed: calling
    ``install`` is the consent.
    """
    if approve is None:
        logger.warning("installing Python packages with pip: %s", ", ".join(requirements))
        return
    if not approve(list(requirements)):
        raise AgentOSError(
            f"not installing the required Python packages: {', '.join(requirements)}",
            where="agentos install",
            fix="rerun and answer yes, or pass --yes; nothing was changed",
        )


def check_gym_id(name: str, env_id: str) -> None:
    """Refuse ``gym:ID`` at install when gymnasium does not know ``ID``."""
    import gymnasium as gym

    from agentos.envs.make import register_plugins

    try:
        bare = register_plugins(env_id)
    except AgentOSError as e:
        raise RegistryError(
            str(e).split("\nFix:")[0], where=f"agentos install {name}", fix=e.fix
        ) from None
    if bare in gym.registry:
        _warn_missing_package(name, bare)
        return
    close = difflib.get_close_matches(bare, list(gym.registry), n=3)
    raise RegistryError(
        f"unknown gymnasium environment id '{bare}'",
        where=f"agentos install {name}",
        fix=(f"did you mean {', '.join(close)}? " if close else "")
        + "gymnasium ids look like CartPole-v1, ALE/Pong-v5, MiniGrid-DoorKey-5x5-v0; "
        "a package's own ids as gym:package:Id-v0",
    )


def _warn_missing_package(name: str, env_id: str) -> None:
    """Warn at install when the id's environment needs a package that is not installed
    (MuJoCo ids without mujoco): every later command would fail on it. Its entry point is
    imported (gymnasium's own module, or the package the id names), nothing is built."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    entry = gym.registry[env_id].entry_point
    if not isinstance(entry, str):
        return
    try:
        load_env_creator(entry)
    except gym.error.DependencyNotInstalled as e:
        logger.warning(
            "%s is installed, but this agent cannot run or learn yet: the environment needs a "
            "package that is not installed: %s",
            name,
            str(e).strip(),
        )
    except Exception as e:  # a check that warns must never fail an install
        logger.debug("package check of %s skipped: %s", env_id, e)


def check_entry_keys(
    spec: Any, plan: dict[str, Any], loop_origins: dict[str, str], agent_dir: Any
) -> None:
    """Refuse a registry entry whose params or bundle loop name keys its component (or the
    loop) does not take, naming the entry: written as they are, every later command would
    fail and blame agentos.yaml."""
    import dataclasses

    from agentos.components.params import check_keys
    from agentos.components.sections import loop_params_class
    from agentos.components.sources import load_component_class

    unchanged = " (agentos.yaml was not changed)"
    for slot, entry in plan.items():
        if not entry.params:
            continue
        params = getattr(load_component_class(spec.components[slot], agent_dir), "Params", None)
        if isinstance(params, type) and dataclasses.is_dataclass(params):
            where = f"{entry.origin.describe()}: {entry.name}.params"
            check_keys(params, entry.params, where, unchanged)
    for key, bundle in loop_origins.items():
        check_keys(loop_params_class(), {key: None}, f"bundle '{bundle}': loop", unchanged)


def warn_kept_settings(
    raw: dict[str, Any], loop: dict[str, Any], defaults: dict[str, dict[str, Any]], bundles: Any
) -> None:
    """A bundle sets loop keys and parameter defaults; those another bundle sets that are in
    the spec already and this install does not set stay (they may be the user's), so say
    which: after ``install r2d2`` then ``install dqn``, DQN would otherwise run silently with
    R2D2's ``learn_every`` and 8 copies."""
    if not loop and not defaults:
        return
    bundle_loop = {k for b in bundles for k in b.loop}
    bundle_defaults = {(slot, k) for b in bundles for slot, ps in b.defaults.items() for k in ps}
    kept = [
        f"loop.{k}={v}"
        for k, v in (raw.get("loop") or {}).items()
        if k in bundle_loop and k not in loop
    ]
    for slot, params in (raw.get("defaults") or {}).items():
        if isinstance(params, Mapping):
            new = defaults.get(slot, {})
            kept += [
                f"defaults.{slot}.{k}={v}"
                for k, v in params.items()
                if (slot, k) in bundle_defaults and k not in new
            ]
    if kept:
        logger.warning(
            "kept from before in agentos.yaml, not set by this install: %s (delete them there "
            "if another bundle set them)",
            ", ".join(kept),
        )
