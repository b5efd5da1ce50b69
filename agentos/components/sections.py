"""Spec sections that belong to a layer above the component system.

The ``loop:`` section of agentos.yaml holds the run loop's parameters; its typed dataclass
belongs to the learning runtime, which registers it here when imported
(``agentos/runtime/__init__.py``). The graph types, defaults and checks the section with it
exactly like a component's ``Params``. The component system never imports the runtime at
import time; a program that loads a graph before anything imported the runtime gets the
provider below imported then, by name, as a plug-in.
"""

from __future__ import annotations

import importlib

LOOP_PARAMS_PROVIDER = "agentos.runtime"
"""The module that registers the ``loop:`` section's class when imported."""

_loop_params: list[type] = []


def register_loop_params(cls: type) -> None:
    """Make ``cls`` (a frozen dataclass) the parameters class of the ``loop:`` section."""
    _loop_params[:] = [cls]


def loop_params_class() -> type:
    """The registered parameters class of the ``loop:`` section (importing its provider
    first if nothing registered one yet)."""
    if not _loop_params:
        importlib.import_module(LOOP_PARAMS_PROVIDER)
    if not _loop_params:
        raise RuntimeError(f"{LOOP_PARAMS_PROVIDER} did not register the loop: parameters")
    return _loop_params[0]
