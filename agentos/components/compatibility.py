"""Do the components of a spec fit together?

Components from different bundles share roles but not interfaces: the R2D2 actor needs a
recurrent network and a replay of sequences, the DQN learner a feed-forward network and a
replay of single transitions. Installing one component of another bundle used to pass
``show`` and die in a traceback deep inside ``learn``. Each class may declare what it
``provides`` its dependants and what it ``expects`` of each dependency; the graph checks
both before anything is built and names the component to install instead.

A class that declares nothing is duck-typed (third-party components keep working).
"""

from __future__ import annotations

from typing import Any

from agentos.errors import IncompatibleComponentsError

CAPABILITIES: dict[str, tuple[str, str]] = {
    "q_values": ("feed-forward Q-values (the DQN network)", "dqn_network"),
    "recurrent_q_values": ("recurrent Q-values (the R2D2 LSTM network)", "recurrent_q_network"),
    "agent57_values": (
        "Agent57's extrinsic and intrinsic values per exploration arm",
        "agent57_network",
    ),
    "transitions": ("single n-step transitions (add, sample_many)", "uniform_replay"),
    "sequences": (
        "sequences with their recurrent state (add_items, sample, update_priorities)",
        "sequence_replay",
    ),
}
"""{capability: (what it means, the builtin component that provides it)}."""


def _describe(capability: str) -> str:
    return CAPABILITIES.get(capability, (capability, ""))[0]


def _provider(capability: str) -> str | None:
    return CAPABILITIES.get(capability, ("", ""))[1] or None


def check_compatibility(
    classes: dict[str, Any], dependencies: dict[str, dict[str, str]], where_file: str
) -> None:
    """Refuse (IncompatibleComponentsError) a dependency that lacks what its dependant ``expects``.

    ``classes``: {component name: class}; ``dependencies``: {name: {argument: name}}."""
    for name, cls in classes.items():
        expects: dict[str, str] = dict(getattr(cls, "expects", {}) or {})
        for arg, target in dependencies.get(name, {}).items():
            wanted = expects.get(arg)
            provided = tuple(getattr(classes[target], "provides", ()) or ())
            if wanted is None or not provided or wanted in provided:
                continue
            target_cls = classes[target]
            offers = "; ".join(_describe(p) for p in provided)
            provider = _provider(wanted)
            fix = (
                f"agentos install {provider}"
                + (f" (it replaces the current {target})" if target == target_cls.role else "")
                + ", or install one whole bundle (agentos list shows them)"
                if provider
                else f"install a {target_cls.role} that provides '{wanted}'"
            )
            raise IncompatibleComponentsError(
                f"{cls.__name__} needs a {target_cls.role} with {_describe(wanted)}, but "
                f"'{target}' is {target_cls.__name__}, which has {offers}: these components "
                "come from different agents",
                where=f"{where_file}: components.{name}",
                fix=fix,
            )
