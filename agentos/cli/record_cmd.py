"""`agentos record`: play episodes with the agent's actor into a Minari dataset; and the
offline half of `agentos learn` (`--offline`): learner updates on a dataset, with a progress
bar counting them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from agentos.cli.common import AgentOption, ParamOption, SeedOption, count_parser
from agentos.cli.progress import ProgressHooks


def record(
    episodes: int = typer.Option(
        None, "--episodes", "-e", parser=count_parser(1), help="Complete episodes to record (>= 1)."
    ),
    dataset: str = typer.Option(
        ...,
        "--dataset",
        "-d",
        help="Name of the new Minari dataset, e.g. cartpole-expert-v0 (written to "
        ".agentos/datasets/NAME in the agent folder).",
    ),
    checkpoint: str = typer.Option(
        None,
        "--checkpoint",
        "-c",
        help="RUN_ID, 'latest' or 'best'; default: latest if the agent learns, else none "
        "(the random actor needs none).",
    ),
    explore: bool = typer.Option(
        False,
        "--explore",
        help="Act with the training exploration (e.g. DQN's final epsilon) instead of the "
        "evaluation policy (greedy, or -p actor.evaluation_epsilon=0.2 for noise).",
    ),
    from_run: str = typer.Option(
        None,
        "--from-run",
        help="Instead of playing episodes: export what this online run's replay holds at its "
        "latest checkpoint (RUN_ID or prefix, 'latest' or 'best').",
    ),
    seed: int = SeedOption,
    param: list[str] = ParamOption,
    agent: Path = AgentOption,
) -> int:
    """Record --episodes episodes of the agent's actor as a Minari dataset (tracked run), or
    export an online run's replay with --from-run."""
    from agentos.api import load_agent
    from agentos.cli.console import console, escape, number
    from agentos.errors import AgentOSError

    if (episodes is None) == (from_run is None):
        raise AgentOSError(
            "give either --episodes N (play episodes) or --from-run RUN (export a run's replay)",
            where="agentos record",
            fix="e.g. `agentos record --episodes 100 --dataset NAME` or "
            "`agentos record --from-run RUN --dataset NAME`",
        )
    if from_run is not None and (checkpoint is not None or explore):
        raise AgentOSError(
            "--checkpoint and --explore apply to playing episodes, not to --from-run",
            where="agentos record",
            fix="drop them (--from-run reads the run's latest checkpoint)",
        )
    loaded = load_agent(agent, param)
    try:
        if from_run is not None:
            from agentos.datasets.export import record_from_run

            result = record_from_run(loaded, from_run, dataset, seed=seed)
        else:
            result = loaded.record(
                episodes, dataset, seed=seed, checkpoint=checkpoint, explore=explore
            )
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted:[/] recording stopped, no dataset was written.")
        return 130
    console.print(
        f"[green]Recorded[/] dataset [bold]{escape(result.dataset)}[/]: {result.episodes:,} "
        f"episodes, {result.steps:,} steps, mean return {number(result.return_mean)}\n"
        f"  {escape(str(result.path))}  {result.digest[:19]}...  (run {result.run_id[:8]})\n"
        f"Learn from it: agentos install cql && agentos learn --offline --dataset "
        f"{escape(result.dataset)}"
    )
    return 0


class UpdateProgressHooks(ProgressHooks):
    """The learn progress bar, counting learner updates."""

    def __init__(self, total: int, description: str = "learn --offline"):
        super().__init__(total, description)
        self._bar.columns[3].text_format = "{task.fields[rate]} updates/s"

    def on_progress(self, progress: Any) -> None:
        """Move the bar to the learner-update count."""
        self.draw(progress, progress.counters.learner_updates, "-")


def learn_offline(
    steps: int,
    *,
    seed: int,
    param: list[str],
    resume: bool,
    from_run: str | None,
    dataset: str | None,
    evaluate: bool,
    agent: Path,
) -> int:
    """`agentos learn --offline`: ``steps`` learner updates on the agent's dataset."""
    from agentos.api import load_agent
    from agentos.cli.console import console, number
    from agentos.errors import AgentOSError, ParameterError

    if resume and not dataset:  # the run being continued names its dataset
        dataset = _dataset_of_the_resumed_run(agent, from_run)
    overrides = list(param or []) + ([f"replay.dataset={dataset}"] if dataset else [])
    try:
        loaded = load_agent(agent, overrides)
    except ParameterError as e:
        if not dataset or not str(e.where or "").endswith("replay.dataset"):
            raise
        raise AgentOSError(
            f"the agent's replay cannot read the dataset '{dataset}': it is filled only by acting",
            where="agentos learn --offline --dataset",
            fix="install an offline learner, whose replay reads datasets: `agentos install "
            "cql` (or bc, r2d2_cql), then run this command again",
        ) from None
    hooks = UpdateProgressHooks(steps)
    try:
        with hooks:
            result = loaded.learn_offline(
                steps,
                seed=seed,
                resume=(True if from_run is None else from_run) if resume else False,
                hooks=hooks,
                evaluate=evaluate,
            )
    except KeyboardInterrupt:
        console.print(
            "[yellow]Interrupted:[/] checkpoint saved, run marked KILLED. "
            "Continue with `agentos learn --offline --resume`."
        )
        return 130
    mean = result.eval_mean
    evaluation = (
        f"evaluation mean return [bold]{number(mean)}[/] over {len(result.eval_returns)} episodes"
        if mean is not None
        else "no evaluation"
    )
    console.print(
        f"[green]Done[/] run [bold]{result.run_id[:8]}[/] (offline): "
        f"{result.learner_updates:,} learner updates, 0 env steps; {evaluation}"
    )
    return 0


def _dataset_of_the_resumed_run(agent: Path, from_run: str | None) -> str | None:
    """The dataset (tag ``agentos.dataset``) of the offline run ``--resume`` continues; None
    when there is none (the spec's own dataset, or the resume's own error, then applies)."""
    from agentos.datasets.lineage import TAG_DATASET
    from agentos.errors import AgentOSError
    from agentos.tracking.rerun import TAG_OFFLINE
    from agentos.tracking.store import get_run, list_runs

    try:
        if from_run is not None:
            tags = get_run(agent, from_run).tags
        else:
            learns = [r for r in list_runs(agent) if r.kind == "learn"]
            tags = get_run(agent, learns[0].run_id).tags if learns else {}
    except AgentOSError:
        return None
    if tags.get(TAG_OFFLINE) != "true":
        return None
    name = tags.get(TAG_DATASET, "").split(" ")[0]
    return name or None
