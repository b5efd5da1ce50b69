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
    for item in overrides:
        if item.split("=", 1)[0].strip() == "loop.eval_episodes":
            raise AgentOSError(
                f"-p {item}: a suite evaluates with its own eval_episodes "
                f"({suite.eval_episodes}), so that every run compares with the baseline",
                where=f"agentos bench {suite_name}",
                fix=f"drop -p loop.eval_episodes, or set eval_episodes in the suite "
                f"(bench: {{{suite_name}: {{eval_episodes: N}}}} in agentos.yaml)",
            )
    check_suite_envs(load_spec(agent_dir), suite_name, suite)
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


def check_suite_envs(spec: Any, suite_name: str, suite: Suite) -> None:
    """Refuse a suite env that is no registry environment, or a ``gym:`` id gymnasium does
    not know, naming ``bench.SUITE.envs[i]`` (``agentos show`` and ``bench`` call it)."""
    for i, env in enumerate(suite.envs):
        if env != AGENT_ENV:
            _environment_entry(spec, env, f"{spec.path}: bench.{suite_name}.envs[{i}]")


def _environment_entry(spec: Any, env_name: str, where: str = "bench suite envs") -> Any:
    """The registry entry of the environment ``env_name`` (a ``gym:`` id checked)."""
    from agentos.components.install_checks import check_gym_id
    from agentos.components.registry import GYM_PREFIX, load_registries

    fix = "correct the name in the suite's envs (agent: the spec's own environment); "
    try:
        entry = load_registries(list(spec.registries), spec.agent_dir).get(env_name)
        if env_name.startswith(GYM_PREFIX):
            check_gym_id(env_name, str(entry.params.get("env_id", "")))
    except AgentOSError as e:
        raise type(e)(e.message, where=where, fix=fix + (e.fix or "")) from None
    if getattr(entry, "role", None) != "environment":
        raise AgentOSError(
            f"'{env_name}' is not an environment",
            where=where,
            fix="list environments with `agentos list`",
        )
    return entry


def _with_environment(spec: Any, env_name: str) -> Any:
    """The spec with its environment replaced by the registry entry ``env_name``."""
    from agentos.components.install import spec_entry
    from agentos.components.spec import parse_spec, read_raw

    entry = _environment_entry(spec, env_name)
    raw = read_raw(spec.path)
    env_slot = next(c.name for c in spec.components.values() if _is_env(c, spec))
    raw["components"][env_slot] = spec_entry(entry, env_slot, spec.agent_dir)
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


def _baseline_entries(agent_dir: Path, suite_name: str) -> list[dict[str, Any]] | None:
    """The stored baseline's entries, checked; None if no baseline was saved."""
    path = baseline_path(agent_dir, suite_name)
    if not path.is_file():
        return None

    def damaged(what: str) -> AgentOSError:
        return AgentOSError(
            f"the baseline of suite '{suite_name}' is damaged: {what}",
            where=str(path),
            fix=f"store a new one with `agentos bench {suite_name} --save-baseline` (it "
            "replaces the file), or delete the file",
        )

    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise damaged(f"not JSON ({error})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise damaged("no list of 'entries'")
    for e in entries:
        returns = e.get("returns") if isinstance(e, dict) else None
        if not isinstance(e, dict) or not isinstance(e.get("env"), str):
            raise damaged(f"an entry without an 'env' name: {str(e)[:80]}")
        if not isinstance(returns, dict) or not returns:
            raise damaged(f"entry '{e['env']}' has no 'returns' per seed")
        if not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in returns.values()
        ):
            raise damaged(f"entry '{e['env']}' has a return that is not a number")
        if not isinstance(e.get("run_ids", {}), dict):
            raise damaged(f"entry '{e['env']}' has 'run_ids' that are not a mapping")
    return entries


def load_baseline(agent_dir: Path, suite_name: str) -> dict[str, float] | None:
    """{env: baseline mean return} or None if no baseline was saved."""
    entries = _baseline_entries(agent_dir, suite_name)
    if entries is None:
        return None
    return {e["env"]: statistics.fmean(e["returns"].values()) for e in entries}


def load_baseline_runs(agent_dir: Path, suite_name: str) -> dict[str, list[str]] | None:
    """{env: the baseline's run ids} or None if no baseline was saved."""
    entries = _baseline_entries(agent_dir, suite_name)
    if entries is None:
        return None
    return {e["env"]: [str(r) for r in e.get("run_ids", {}).values()] for e in entries}


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
