"""Where an agent folder keeps its checkpoints, and finding one by ``latest``, ``best`` or
run id (a run's own folder first, else the run's stored artifact; ``latest`` falls back to
the newest learn run's stored artifact when the folder has none)."""

from __future__ import annotations

from pathlib import Path

from agentos.errors import CheckpointError

CHECKPOINT_DIR = Path(".agentos") / "checkpoints"
CHECKPOINT_FILE = "latest.msgpack"
BEST_FILE = "best.msgpack"


def checkpoint_path(agent_dir: Path, run_id: str) -> Path:
    """Where run ``run_id`` keeps its latest checkpoint."""
    return agent_dir / CHECKPOINT_DIR / run_id / CHECKPOINT_FILE


def find_checkpoint(agent_dir: Path, ref: str) -> tuple[str, Path]:
    """(run id, checkpoint file) for ``latest``, ``best``, or a run id (prefix allowed).

    ``best`` is the state at the best training evaluation of the latest learn run.
    """
    if not ref.strip():
        raise CheckpointError(
            f"{ref!r} is an empty RUN_ID: a checkpoint is chosen by run ID (or a unique "
            "prefix), `latest` or `best`",
            fix="give a run ID from `agentos runs`, or latest/best (leave the option out for "
            "latest)",
        )
    root = agent_dir / CHECKPOINT_DIR
    files = sorted(root.glob(f"*/{CHECKPOINT_FILE}"), key=lambda p: p.stat().st_mtime)
    if ref == "best":
        best = files[-1].parent / BEST_FILE if files else None
        if best is None or not best.is_file():
            raise CheckpointError(
                f"no best checkpoint in {root}", fix="train first with `agentos learn`"
            )
        return best.parent.name, best
    if ref == "latest":
        if not files:
            stored = _stored_checkpoint(agent_dir)
            if stored is not None:
                return stored
            raise CheckpointError(
                f"no checkpoint in {root}",
                fix="train first with `agentos learn`",
            )
        return files[-1].parent.name, files[-1]
    if looks_like_path(ref):
        raise CheckpointError(
            f"'{ref}' is a file path: a checkpoint is chosen by run ID (or a unique prefix), "
            "`latest` or `best`",
            fix=_path_fix(agent_dir, ref),
        )
    matches = [f for f in files if f.parent.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0].parent.name, matches[0]
    from agentos.tracking.store import download_artifacts, get_run

    run = get_run(agent_dir, ref)
    try:
        local = download_artifacts(agent_dir, run.run_id, f"checkpoints/{CHECKPOINT_FILE}")
    except Exception:
        raise CheckpointError(
            f"run {run.run_id} has no checkpoint",
            fix="name a learn run from `agentos runs` (its kind is learn), or `latest` for "
            "the newest checkpoint",
        ) from None
    return run.run_id, Path(local)


STORED_RUNS_TRIED = 5
"""Learn runs (newest first) whose stored checkpoint ``latest`` falls back to."""


def _stored_checkpoint(agent_dir: Path) -> tuple[str, Path] | None:
    """(run id, local copy) of the final ``latest`` checkpoint kept by the newest learn run in
    the folder's own store (mlartifacts/), for a folder whose ``.agentos`` was deleted; None
    when no recent learn run kept one."""
    import os

    from agentos.errors import AgentOSError
    from agentos.tracking.backend import default_db_path
    from agentos.tracking.store import download_artifacts, list_runs

    if os.environ.get("MLFLOW_TRACKING_URI") or not default_db_path(agent_dir).is_file():
        return None  # only the folder's own store: a shared one holds other folders' runs
    learn_runs = [r for r in list_runs(agent_dir) if r.kind == "learn"][:STORED_RUNS_TRIED]
    for run in learn_runs:
        try:
            local = download_artifacts(agent_dir, run.run_id, f"checkpoints/{CHECKPOINT_FILE}")
        except AgentOSError:
            continue
        return run.run_id, Path(local)
    return None


def looks_like_path(ref: str) -> bool:
    """Whether a run reference was given as a file path (a run ID never has / or a suffix)."""
    return any(c in ref for c in "/\\") or ref.lower().endswith((".msgpack", ".ckpt"))


def _path_fix(agent_dir: Path, ref: str) -> str:
    """Name the run that wrote ``ref`` when it is one of this agent's checkpoint files."""
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    root = (agent_dir / CHECKPOINT_DIR).resolve()
    try:
        parts = path.resolve().relative_to(root).parts
    except (ValueError, OSError):
        parts = ()
    if len(parts) < 2:
        return "give the ID of the run that wrote it (`agentos runs` lists them), or latest/best"
    run_id = parts[0]
    return f"that file is run {run_id[:8]}'s checkpoint: give {run_id[:8]} instead of its path"
