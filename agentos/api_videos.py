"""Videos of evaluation episodes for ``agentos.api.Agent`` (``learn``/``run`` with
``video_every``/``--video``): an agent whose environment renders frames, and moving the films
to ``videos/<run id>/`` as run artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentos.api import Agent


def filmed(agent: Agent) -> Agent:
    """This agent with an environment that films every finished episode."""
    import time

    node = agent.graph.node("environment")
    fields = getattr(node.params, "__dataclass_fields__", {})
    if "render_mode" not in fields:
        from agentos.errors import AgentOSError

        raise AgentOSError(
            f"the environment '{node.spec.name}' ({node.cls.__name__}) cannot be filmed: "
            "only gymnasium environments render frames",
            where=f"{agent.spec.path}: {node.spec.where}",
            fix="record videos of a gymnasium environment (gym:<id>, a plain "
            "gymnasium.Env class with render_mode='rgb_array'), or run without --video",
        )
    from agentos.api import Agent

    folder = agent.agent_dir / "videos" / f"pending-{time.time_ns()}"
    copy = Agent(agent.spec, [*agent.overrides, "environment.render_mode=rgb_array"])
    check_renders(copy)
    copy._video_folder = folder
    return copy


def check_renders(agent: Agent) -> None:
    """Render one frame of a fresh copy, so that an environment without frames fails before
    any training or evaluation rather than at the first film."""
    from agentos.errors import AgentOSError

    node = agent.graph.node("environment")
    factory = getattr(node.cls, "factory", None)
    if factory is None:
        return
    from agentos.envs.env_checks import RENDER_FIX, rendered
    from agentos.viz.video import as_rgb

    where = f"{agent.spec.path}: {node.spec.where}"
    fix = (
        "film an environment whose render() returns frames in rgb_array mode, or run "
        "without --video/--video-every"
    )
    label = f"the environment '{node.spec.name}' ({factory(node.params).label()})"
    env = factory(node.params, agent.agent_dir)()
    try:
        env.reset(seed=0)
        try:
            frame = rendered(env.render, label)
        except AgentOSError as e:
            if e.fix != RENDER_FIX:  # an error of the environment's own, with its own fix
                raise
            raise AgentOSError(e.message, where=where, fix=fix) from e.__cause__
    finally:
        env.close()
    try:
        as_rgb(frame)
    except AgentOSError as e:
        raise AgentOSError(f"{label}: {e.message}", where=where, fix=fix) from None


def keep_videos(agent: Agent, tracker: Any) -> list[Path]:
    """Move the evaluation's videos to ``videos/<run id>/`` and log them as artifacts."""
    folder = agent._video_folder
    if folder is None or not folder.is_dir():
        return []
    final = folder.parent / tracker.run_id[:8]
    final.mkdir(parents=True, exist_ok=True)  # a resumed run adds to its folder
    moved = [f.rename(final / f.name) for f in sorted(folder.glob("*.mp4"))]
    folder.rmdir()
    for path in moved:
        tracker.log_file(path, "videos")
    return moved
