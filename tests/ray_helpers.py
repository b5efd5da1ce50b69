"""What the Ray layout tests share: an agent folder from the registry, the processes a run
starts (by PID), and user hooks that look at them mid-run (listening sockets) and then kill a
process or press Ctrl-C."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

from agentos.cli.init_cmd import init
from agentos.components.install import install

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def agent_folder(root: Path, bundle: str, env: str) -> Path:
    folder = root / "agent"
    init(folder, None, False)
    install(folder, [bundle, env], [])
    return folder


def descendants() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def alive(pids: set[int], wait_s: float = 15.0) -> list[str]:
    """The processes among ``pids`` still running (zombies count as gone) after ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        left = []
        for pid in pids:
            try:
                proc = psutil.Process(pid)
                if proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {cmdline(proc)[:60]}")
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


class Probe:
    """User hooks: record every process the run starts; once ``at_steps`` env steps are done,
    record the listening sockets of those processes, then SIGKILL a worker or send SIGINT."""

    def __init__(self, at_steps: int, action: str):
        self.at_steps, self.action = at_steps, action
        self.pids: set[int] = set()
        self.listening: dict[str, list[str]] = {}
        self.workers: list[int] = []
        self.shards: list[int] = []
        self.evaluators: list[int] = []
        self.learners: list[int] = []
        self.fired = False

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def on_progress(self, progress: Any) -> None:
        procs = descendants()
        self.pids |= {p.pid for p in procs}
        if self.fired or progress.counters.env_steps < self.at_steps:
            return
        self.fired = True
        for proc in [psutil.Process(), *procs]:
            try:
                conns = proc.net_connections(kind="inet")
            except psutil.Error:
                continue
            addrs = [c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN]
            if addrs:
                self.listening[f"{proc.pid} {proc.name()} {cmdline(proc)[:40]}"] = addrs
        self.workers = [p.pid for p in procs if cmdline(p).startswith("ray::EnvironmentWorker")]
        self.shards = [p.pid for p in procs if cmdline(p).startswith("ray::ReplayShard")]
        self.evaluators = [p.pid for p in procs if cmdline(p).startswith("ray::EvaluationW")]
        self.learners = [p.pid for p in procs if cmdline(p).startswith("ray::LearnerWorker")]
        if self.action == "kill":
            os.kill(self.workers[0], signal.SIGKILL)
        elif self.action == "kill_shard":
            os.kill(self.shards[-1], signal.SIGKILL)
        elif self.action == "kill_all":  # a worker, the last replay shard and the evaluator
            for pid in (self.workers[0], self.shards[-1], self.evaluators[0]):
                os.kill(pid, signal.SIGKILL)
        elif self.action == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C: learn's handler stops at a safe point

    def should_stop(self) -> bool:
        return False
