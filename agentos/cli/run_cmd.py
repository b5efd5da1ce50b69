"""`agentos run`: evaluate the agent (greedy) for some episodes, tracked."""

from __future__ import annotations

from pathlib import Path

import typer

from agentos.cli.common import AgentOption, ParamOption, SeedOption, count_parser


def run(
    episodes: int = typer.Option(
        10, "--episodes", "-e", parser=count_parser(1), help="Episodes to evaluate (>= 1)."
    ),
    seed: int = SeedOption,
    checkpoint: str = typer.Option(
        None,
        "--checkpoint",
        "-c",
        help="RUN_ID, 'latest', or 'best' (the best training evaluation of the latest run); "
        "default: latest if the agent learns, else none.",
    ),
    video: bool = typer.Option(
        False, "--video", help="Record the evaluation episodes as mp4 (videos/<run id>/)."
    ),
    overlay: bool = typer.Option(
        False,
        "--overlay",
        help="With --video: draw the actor's per-step values beside each frame (Agent57: "
        "arm, intrinsic reward; DQN: Q-values).",
    ),
    trace: Path = typer.Option(
        None, "--trace", help="Write one CSV row per evaluation step (action, reward, extras)."
    ),
    param: list[str] = ParamOption,
    agent: Path = AgentOption,
) -> int:
    """Run the agent for --episodes evaluation episodes and print the returns."""
    from agentos.api import load_agent
    from agentos.cli.console import console, escape, number

    if overlay and not video:
        from agentos.errors import AgentOSError

        raise AgentOSError(
            "--overlay draws on the video's frames, but --video is not given",
            where="agentos run",
            fix="add --video (agentos run --video --overlay), or drop --overlay",
        )
    loaded = load_agent(agent, param)
    try:
        result = loaded.run(
            episodes, seed=seed, checkpoint=checkpoint, video=video, trace=trace, overlay=overlay
        )
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted:[/] evaluation stopped, run marked KILLED.")
        return 130
    returns = ", ".join(number(r) for r in result.eval_returns)
    console.print(f"returns: {returns}")
    if result.videos:
        console.print(f"videos: {escape(str(result.videos[0].parent))} ({len(result.videos)} mp4)")
    if result.trace is not None:
        console.print(f"trace: {escape(str(result.trace))}")
    console.print(
        f"[green]Done[/] run [bold]{result.run_id[:8]}[/]: mean return "
        f"[bold]{number(result.eval_mean, 2)}[/] over {len(result.eval_returns)} episodes"
    )
    return 0
