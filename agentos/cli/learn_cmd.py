"""`agentos learn`: train the agent, tracked, with checkpoints and resume."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from agentos.cli.common import AgentOption, ParamOption, SeedOption, count_parser


def learn(
    ctx: typer.Context,
    steps: int = typer.Option(
        50_000,
        "--steps",
        "-n",
        parser=count_parser(1),
        help="Total env steps to train for (>= 1; 50000, 5e4 and 50k all work).",
    ),
    seed: int = SeedOption,
    param: list[str] = ParamOption,
    resume: bool = typer.Option(
        False, "--resume", help="Continue the latest run from its last checkpoint."
    ),
    from_run: str = typer.Option(
        None, "--from", help="With --resume: the run id to continue (default: latest)."
    ),
    actors: int = typer.Option(
        0,
        "--actors",
        min=0,
        help="Act in N environment-worker processes on Ray (each with environment.num_envs "
        "copies); the learner stays in this process unless --learner-actor/--learner-gpu. "
        "0: one process.",
    ),
    address: str = typer.Option(
        None,
        "--address",
        help="With --actors: join the Ray cluster at HOST:PORT instead of starting a local "
        "Ray bound to 127.0.0.1 for the run.",
    ),
    replay_shards: int = typer.Option(
        1,
        "--replay-shards",
        min=1,
        help="With --actors: keep the replay in K Ray processes (shards); worker i's items go "
        "to shard i mod K and the learner samples all of them.",
    ),
    learner_actor: bool = typer.Option(
        False,
        "--learner-actor",
        help="With --actors: run the learner in its own Ray process (it samples the replay "
        "shards itself) instead of this one.",
    ),
    learner_gpu: bool = typer.Option(
        False,
        "--learner-gpu",
        help="With --actors: run the learner in its own Ray process with one GPU (the cluster "
        "needs a GPU and a CUDA build of JAX there).",
    ),
    video_every: int = typer.Option(
        0,
        "--video-every",
        parser=count_parser(0),
        help="Film one evaluation episode at the evaluations N env steps apart "
        "(videos/<run id>/step-*.mp4); 0: none.",
    ),
    offline: bool = typer.Option(
        False,
        "--offline",
        help="Learn from the agent's dataset (the replay slot; `agentos install cql`) with no "
        "environment interaction: --steps counts learner updates.",
    ),
    dataset: str = typer.Option(
        None, "--dataset", help="With --offline: the dataset to learn from (replay.dataset)."
    ),
    evaluate: bool = typer.Option(
        True, "--eval/--no-eval", help="With --offline: play evaluation episodes (default)."
    ),
    agent: Path = AgentOption,
) -> int:
    """Train the agent for --steps env steps; every run is tracked (see `agentos runs`)."""
    _refuse_seed_with_resume(ctx, seed, resume)
    if from_run is not None and not resume:
        from agentos.errors import AgentOSError

        raise AgentOSError(
            f"--from {from_run} names the run to continue, but --resume is not given",
            where="agentos learn",
            fix=f"add --resume (agentos learn --resume --from {from_run}), or drop --from",
        )
    if offline or dataset or not evaluate:
        from agentos.cli.record_cmd import learn_offline
        from agentos.errors import AgentOSError

        if not offline:
            raise AgentOSError(
                "--dataset and --no-eval apply to offline learning only",
                where="agentos learn",
                fix="add --offline (learn from a recorded dataset), or drop those options",
            )
        online_only = {
            "--actors": actors,
            "--address": address,
            "--replay-shards": replay_shards != 1,
            "--learner-actor": learner_actor,
            "--learner-gpu": learner_gpu,
            "--video-every": video_every,
        }
        if given := [name for name, value in online_only.items() if value]:
            raise AgentOSError(
                f"{', '.join(given)} apply to online learning only: --offline acts in no "
                "environment workers and keeps its dataset in this process",
                where="agentos learn --offline",
                fix=f"drop {', '.join(given)}, or drop --offline",
            )
        return learn_offline(
            steps,
            seed=seed,
            param=param,
            resume=resume,
            from_run=from_run,
            dataset=dataset,
            evaluate=evaluate,
            agent=agent,
        )
    from agentos.api import load_agent
    from agentos.api_tracking import interrupt_exit_code, interrupts_from_the_start
    from agentos.cli.console import console, number
    from agentos.cli.progress import ProgressHooks

    started = datetime.now().astimezone()
    loaded = None
    try:
        with interrupts_from_the_start():
            loaded = load_agent(agent, param)
            hooks = ProgressHooks(steps, "learn")
            with hooks:
                result = loaded.learn(
                    steps,
                    seed=seed,
                    resume=(True if from_run is None else from_run) if resume else False,
                    hooks=hooks,
                    actors=actors,
                    address=address,
                    replay_shards=replay_shards,
                    learner_actor=learner_actor,
                    learner_gpu=learner_gpu,
                    video_every=video_every,
                )
    except KeyboardInterrupt:
        console.print(
            "[yellow]Interrupted:[/] "
            + _what_the_interrupt_left(loaded, started, resume, from_run if resume else None)
        )
        return interrupt_exit_code()
    mean = result.eval_mean
    console.print(
        f"[green]Done[/] run [bold]{result.run_id[:8]}[/]: {result.env_steps:,} env steps, "
        f"{result.episodes:,} episodes, {result.learner_updates:,} learner updates; "
        f"evaluation mean return [bold]{number(mean)}[/] over {len(result.eval_returns)} episodes"
    )
    return 0


def _refuse_seed_with_resume(ctx: typer.Context, seed: int, resume: bool) -> None:
    """A resumed run keeps the seed it started with (its random streams are in the
    checkpoint), so a --seed given with --resume would be ignored: say so instead."""
    source = ctx.get_parameter_source("seed")  # typer's own click: compare by name
    if not resume or getattr(source, "name", None) != "COMMANDLINE":
        return
    from agentos.errors import AgentOSError

    raise AgentOSError(
        f"--seed {seed} with --resume: a resumed run continues with the seed it started with "
        "(its random streams are in the checkpoint), so --seed would be ignored",
        where="agentos learn",
        fix=f"drop --seed to continue the run, or drop --resume to start a new run with seed "
        f"{seed}",
    )


def _what_the_interrupt_left(
    agent: Any, started: datetime, resume: bool, from_run: str | None = None
) -> str:
    """The truth about an interrupted learn: a KILLED run with its checkpoint, a KILLED run
    stopped before its first checkpoint, or nothing (stopped before the run started).
    ``from_run`` is the id (or prefix) of the run a ``--resume --from`` continued."""
    from agentos.tracking.checkpoints import checkpoint_path
    from agentos.tracking.store import list_runs

    if agent is None:  # stopped while the spec was read
        return "stopped before the run started; nothing was recorded."
    runs = [r for r in list_runs(agent.agent_dir) if r.kind == "learn"]
    if from_run is not None:  # not the newest run: the one named
        runs = [r for r in runs if r.run_id.startswith(from_run)]
    latest = runs[0] if runs else None
    again = "agentos learn --resume" + (
        f" --from {latest.run_id[:8]}" if from_run and latest else ""
    )
    if latest is None or not (resume or latest.start_time >= started):
        return "stopped before the run started; nothing was recorded."
    if checkpoint_path(agent.agent_dir, latest.run_id).is_file():
        if latest.status == "FINISHED":  # the signal came after the last step
            return f"learning had finished: run {latest.run_id[:8]} FINISHED, checkpoint saved."
        return (
            f"checkpoint saved, run {latest.run_id[:8]} marked {latest.status}. Continue with "
            f"`{again}`."
        )
    return (
        f"run {latest.run_id[:8]} marked {latest.status} before its first checkpoint; "
        "`agentos learn` starts afresh."
    )
