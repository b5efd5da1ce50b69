"""Run a suite, store its figures as a baseline, and judge a new run against it.

Each (environment, seed) pair is one tracked learn run tagged with the suite. Verdicts
are per environment: the mean final evaluation return over seeds, compared with the
baseline's mean minus ``tolerance * |baseline mean|``.
"""

from __future__ import annotations

import json
import logging
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentos.bench.suites import AGENT_ENV, Suite
from agentos.errors import AgentOSError

log = logging.getLogger(__name__)

BASELINE_DIR = Path(".agentos") / "bench"


@dataclass(frozen=True)
class EntryResult:
    """Figures of one environment of a suite, over its seeds."""

    env: str
    returns: dict[int, float]
    """Final evaluation mean return per seed."""
    run_ids: dict[int, str]
    wall_s: float

    @property
    def mean(self) -> float:
        """Mean over seeds."""
        return statistics.fmean(self.returns.values())


@dataclass(frozen=True)
class Verdict:
    """Pass or regressed, with the figures behind it."""

    env: str
    current: float
    baseline: float | None
    threshold: float | None
    passed: bool

    @property
    def label(self) -> str:
        """'pass', 'regressed' or 'no baseline'."""
        if self.baseline is None:
            return "no baseline"
        return "pass" if self.passed else "regressed"


def baseline_path(agent_dir: Path, suite_name: str) -> Path:
    """Where a suite's baseline is stored in the agent folder."""
    return agent_dir / BASELINE_DIR / f"{suite_name}.json"


def run_suite(
    agent_dir: Path,
    suite_name: str,
    suite: Suite,
    overrides: list[str],
    on_entry: Callable[[str, int, float], None] | None = None,
) -> list[EntryResult]:
    """Learn every (env, seed) of the suite; returns figures per environment."""
    import time

    from agentos.api import Agent
    from agentos.components.spec import load_spec

    # Every environment's agent first: a misspelt env or -p fails before any training.
    agents = []
    for env in suite.envs:
        spec = load_spec(agent_dir)
        if env != AGENT_ENV:
            spec = _with_environment(spec, env)
        agents.append((env, Agent(spec, [*overrides, f"loop.eval_episodes={suite.eval_episodes}"])))
    results = []
    for env, agent in agents:
        returns, run_ids = {}, {}
        t0 = time.perf_counter()
        for seed in suite.seeds:
            tags = {"agentos.bench": suite_name, "agentos.bench_env": env}
            result = agent.learn(suite.steps, seed=seed, tags=tags)
            returns[seed] = float(result.eval_mean)  # type: ignore[arg-type]
            run_ids[seed] = result.run_id
            if on_entry:
                on_entry(env, seed, returns[seed])
        results.append(EntryResult(env, returns, run_ids, time.perf_counter() - t0))
    return results


def _with_environment(spec: Any, env_name: str) -> Any:
    """The spec with its environment replaced by the registry entry ``env_name``."""
    from agentos.components.install import spec_entry
    from agentos.components.registry import load_registries
    from agentos.components.spec import parse_spec, read_raw
    from agentos.errors import RegistryError

    registry = load_registries(list(spec.registries), spec.agent_dir)
    try:
        entry = registry.get(env_name)
    except RegistryError as e:
        raise RegistryError(
            str(e).split("\nFix:")[0],
            where="bench suite envs",
            fix="correct the name in the suite's envs (agent: the spec's own environment); "
            + (e.fix or ""),
        ) from None
    if getattr(entry, "role", None) != "environment":
        raise AgentOSError(
            f"'{env_name}' is not an environment",
            where="bench suite envs",
            fix="list environments with `agentos list`",
        )
    raw = read_raw(spec.path)
    env_slot = next(c.name for c in spec.components.values() if _is_env(c, spec))
    raw["components"][env_slot] = spec_entry(entry, env_slot, spec.agent_dir)  # type: ignore[arg-type]
    return parse_spec(raw, spec.path)


def _is_env(cspec: Any, spec: Any) -> bool:
    from agentos.components.sources import load_component_class

    return load_component_class(cspec, spec.agent_dir).role == "environment"  # type: ignore[attr-defined]


def save_baseline(agent_dir: Path, suite_name: str, suite: Suite, results: list[EntryResult]):
    """Store the figures of ``results`` as the suite's baseline."""
    path = baseline_path(agent_dir, suite_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"suite": asdict(suite), "entries": [asdict(r) for r in results]}
    path.write_text(json.dumps(data, indent=2))
    return path


def load_baseline(agent_dir: Path, suite_name: str) -> dict[str, float] | None:
    """{env: baseline mean return} or None if no baseline was saved."""
    path = baseline_path(agent_dir, suite_name)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {e["env"]: statistics.fmean(e["returns"].values()) for e in data["entries"]}


def load_baseline_runs(agent_dir: Path, suite_name: str) -> dict[str, list[str]] | None:
    """{env: the baseline's run ids} or None if no baseline was saved."""
    path = baseline_path(agent_dir, suite_name)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return {e["env"]: list(e.get("run_ids", {}).values()) for e in data["entries"]}


def judge(results: list[EntryResult], baseline: dict[str, float] | None, tolerance: float):
    """A verdict per environment."""
    verdicts = []
    for r in results:
        base = None if baseline is None else baseline.get(r.env)
        if base is None:
            verdicts.append(Verdict(r.env, r.mean, None, None, True))
            continue
        threshold = base - tolerance * max(abs(base), 1e-9)
        verdicts.append(Verdict(r.env, r.mean, base, threshold, r.mean >= threshold))
    return verdicts
