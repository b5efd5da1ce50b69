"""Benchmark suites: which agent x environments x seeds x budget answer "does my agent
still work?". Builtin suites plus the spec's own ``bench:`` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentos.components.params import build_params
from agentos.errors import AgentOSError

AGENT_ENV = "agent"
"""In a suite's envs: the agent's own environment, as the spec has it."""


@dataclass(frozen=True)
class Suite:
    """One benchmark suite."""

    envs: tuple[str, ...] = (AGENT_ENV,)
    """Environments: 'agent' (the spec's own) or registry names (cartpole, gym:Acrobot-v1)."""
    seeds: tuple[int, ...] = (0, 1)
    """Seeds; each (env, seed) pair is one tracked learn run."""
    steps: int = 10_000
    """Env steps of training per run."""
    eval_episodes: int = 10
    """Episodes of the final evaluation."""
    tolerance: float = 0.2
    """Allowed drop of the mean return, as a fraction of |baseline mean|."""

    def __post_init__(self) -> None:
        from agentos.errors import ParameterError

        for key, value in (("envs", self.envs), ("seeds", self.seeds)):
            if not value:
                raise ParameterError(
                    f"{key} is empty, so the suite would run nothing",
                    fix=f"list at least one, e.g. {key}: {list(getattr(Suite, key))}",
                )
        for key, value in (("envs", self.envs), ("seeds", self.seeds)):
            twice = sorted({str(v) for v in value if list(value).count(v) > 1})
            if twice:
                raise ParameterError(
                    f"{key} lists {', '.join(twice)} more than once: each (env, seed) is one run, "
                    "and a repeat would only train it again",
                    fix=f"list each of the suite's {key} once",
                )
        problems = [
            f"{key} must be >= {least}, got {value}"
            for key, value, least in (
                ("steps", self.steps, 1),
                ("eval_episodes", self.eval_episodes, 1),
                ("tolerance", self.tolerance, 0),
                *(("seeds", seed, 0) for seed in self.seeds),
            )
            if value < least
        ]
        if problems:
            raise ParameterError(problems[0], fix="change it in the suite under bench:")


BUILTIN_SUITES: dict[str, dict[str, Any]] = {
    "smoke": {"envs": [AGENT_ENV], "seeds": [0, 1], "steps": 10_000},
    "cartpole": {"envs": ["cartpole"], "seeds": [0, 1, 2], "steps": 50_000},
}


def get_suite(name: str, spec_suites: Mapping[str, Any], where: str) -> Suite:
    """The suite ``name`` from the spec's ``bench:`` section or the builtin ones."""
    if name in spec_suites:
        raw = spec_suites[name]
        if not isinstance(raw, Mapping):
            raise AgentOSError(
                f"a suite must be a mapping, got {type(raw).__name__}",
                where=f"{where}: bench.{name}",
                fix=f"e.g. bench: {{{name}: {{envs: [agent], seeds: [0, 1], steps: 20000}}}}",
            )
        return build_params(Suite, dict(raw), f"{where}: bench.{name}")
    if name in BUILTIN_SUITES:
        return build_params(Suite, BUILTIN_SUITES[name], f"builtin suite {name}")
    known = sorted({*spec_suites, *BUILTIN_SUITES})
    raise AgentOSError(
        f"unknown benchmark suite '{name}'",
        fix=f"use one of: {', '.join(known)}, or define it under `bench:` in agentos.yaml",
    )
