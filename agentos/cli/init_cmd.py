"""`agentos init`: a new agent folder with a spec and a tiny runnable template agent."""

from __future__ import annotations

from pathlib import Path

import typer

TEMPLATE_FILES = {
    # file in the agent folder: where its text comes from (a package file, or a module)
    "corridor.py": "agentos/templates/corridor.py",
    "random_policy.py": "agentos.agents.random.actor",
}


def template_spec(name: str) -> dict:
    """The agentos.yaml a new agent starts with: local, editable components."""
    return {
        "name": name,
        "registries": [],
        "components": {
            "environment": {
                "source": "local",
                "module": "corridor.py",
                "class": "Corridor",
                "params": {"length": 5, "max_steps": 100},
            },
            "actor": {"source": "local", "module": "random_policy.py", "class": "RandomActor"},
        },
        "loop": {"eval_episodes": 10},
    }


def init(
    directory: Path = typer.Argument(Path("."), help="Folder for the new agent."),
    name: str = typer.Option(None, "--name", help="Agent name (default: the folder's name)."),
    force: bool = typer.Option(
        False, "--force", help="Overwrite an existing agentos.yaml (other files are kept)."
    ),
) -> int:
    """Create agentos.yaml and a template agent (random policy in a 1-D corridor)."""
    import importlib.util

    from agentos.cli.console import console
    from agentos.components.spec import MAX_NAME, SPEC_FILENAME, save_raw
    from agentos.errors import SpecError

    if name is not None and (not name.strip() or len(name) > MAX_NAME):
        raise SpecError(
            f"--name must be 1-{MAX_NAME} characters and not blank, got {len(name)}",
            where="agentos init --name",
            fix="give a short name, e.g. --name my_agent (or leave it out to use the folder's)",
        )
    directory = directory.expanduser().resolve()
    _make_folder(directory)
    spec_file = directory / SPEC_FILENAME
    if spec_file.exists() and not force:
        raise SpecError(
            f"{spec_file} already exists",
            fix="use another folder, or --force to overwrite it",
        )
    kept = []
    for filename, module in TEMPLATE_FILES.items():
        if module.endswith(".py"):
            origin = Path(__file__).resolve().parents[2] / module
        else:
            origin = Path(importlib.util.find_spec(module).origin)  # type: ignore[arg-type]
        target = directory / filename
        if target.exists():  # the user's (edited) file: never overwritten, --force or not
            if target.read_bytes() != origin.read_bytes():
                kept.append(filename)
            continue
        target.write_text(origin.read_text())
    save_raw(spec_file, template_spec(name or directory.name))
    ignore = directory / ".gitignore"
    if not ignore.exists():
        ignore.write_text(
            "# agentos: run store, checkpoints, datasets, git checkouts, videos, plots\n"
            "mlflow.db\n.mlflow.db.lock\nmlartifacts/\n.agentos/\nvideos/\nplots/\n"
        )
    console.print(f"[green]Created[/] agent in {directory}")
    console.print("  agentos.yaml       the spec: components, parameters, loop")
    about = {
        "corridor.py": "a 1-D corridor, a plain gymnasium.Env (edit freely)",
        "random_policy.py": "a random actor (edit freely)",
    }
    for filename, text in about.items():
        if filename in kept:
            spec_class = "Corridor" if filename == "corridor.py" else "RandomActor"
            text = f"yours, kept as it was (the spec expects its class {spec_class})"
        console.print(f"  {filename:<18} {text}", markup=False)
    console.print("Next: `agentos run`, then `agentos install dqn cartpole && agentos learn`.")
    return 0


def _make_folder(directory: Path) -> None:
    """Create the agent folder, or say it cannot be created (not a tracking-store Fix)."""
    import errno

    from agentos.errors import AgentOSError

    if directory.is_dir():
        return
    if directory.exists():
        raise AgentOSError(
            "is a file, not a folder",
            where=str(directory),
            fix="give a new or existing folder for the agent",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise  # the disk-full message says what to do
        raise AgentOSError(
            f"cannot create the agent folder: {e.strerror or e}",
            where=str(directory),
            fix="choose a folder you can write, e.g. one under your home folder",
        ) from None
