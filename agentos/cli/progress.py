"""A rich progress bar for learn: env steps, steps/s, recent return, last evaluation."""

from __future__ import annotations

from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentos.cli.console import console, number


def eval_text(progress: Any) -> str:
    """The bar's eval column: the last mean return, or how far the evaluation playing now is."""
    evaluating = getattr(progress, "evaluating", None)
    if evaluating is not None:
        return f"playing {evaluating[0]}/{evaluating[1]} episodes"
    return "-" if progress.last_eval is None else number(progress.last_eval)


class ProgressHooks:
    """Loop hooks that draw a progress bar (see agentos.runtime.loop.Hooks)."""

    def __init__(self, total: int, description: str = "learn"):
        self.total = total
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TextColumn("eval {task.fields[ev]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, rate="-", ret="-", ev="-")
        self._started = False

    def __enter__(self) -> ProgressHooks:
        # Drawn from the first progress report on: a command refused before its first step
        # prints its error alone (a bar erased again still left a blank line on a pipe).
        self._started = False
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._started:
            self._bar.stop()

    def on_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Nothing: metrics go to tracking."""

    def on_progress(self, progress: Any) -> None:
        """Move the bar."""
        fmt = lambda v: "-" if v is None else number(v)  # noqa: E731
        self.draw(progress, progress.counters.env_steps, fmt(progress.recent_return))

    def draw(self, progress: Any, completed: int, recent_return: str) -> None:
        """Show ``completed`` of the total (starting the bar on the first call)."""
        if not self._started:
            self._started = True
            self._bar.start()
        self._bar.update(
            self._task,
            completed=min(completed, self.total),
            rate=f"{progress.steps_per_s:,.0f}",
            ret=recent_return,
            ev=eval_text(progress),
        )

    def should_stop(self) -> bool:
        """Never stops early."""
        return False
