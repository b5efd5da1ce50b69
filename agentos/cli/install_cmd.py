"""``agentos install`` / ``uninstall`` / ``list``: components from registries into agentos.yaml."""

from __future__ import annotations

from pathlib import Path

import typer

from agentos.cli.common import AgentOption

RegistryOption = typer.Option(
    None,
    "--registry",
    "-r",
    help="An extra registry: a YAML file, a git folder, or git+URL[@rev] (repeatable). "
    "Installing records it in the spec's `registries:`.",
)


def install(
    names: list[str] = typer.Argument(
        ..., help="Component, bundle or gym:<id> names (see `agentos list`)."
    ),
    registry: list[str] = RegistryOption,
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="Install the components' Python requirements with pip without asking "
        "(for scripts; without it a non-interactive install that needs pip refuses).",
    ),
    param: list[str] = typer.Option(
        None,
        "--param",
        "-p",
        help="Set a parameter in the spec: -p environment.game=Breakout (repeatable; "
        "checked against the component's parameters).",
    ),
    agent: Path = AgentOption,
) -> None:
    """Install components or bundles from the registries into agentos.yaml."""
    from agentos.cli.console import console, escape
    from agentos.components.install import install as install_names
    from agentos.components.spec import load_spec

    before = load_spec(agent)
    loop_before = dict(before.loop)
    defaults_before = {slot: dict(p) for slot, p in before.defaults.items()}
    slots = install_names(
        agent, names, list(registry or []), approve=_ask_pip(yes), overrides=list(param or [])
    )
    spec = load_spec(agent)
    for slot in slots:
        c = spec.components[slot]
        digest = (c.hash or "").removeprefix("sha256:")[:12]
        origin = f"{c.url}@{(c.commit or '')[:12]}" if c.source == "git" else c.source
        console.print(
            f"installed [bold]{escape(c.registry_name or slot)}[/] -> {escape(slot)}  "
            f"{escape(c.version or '')}  sha256:{digest}  ({escape(origin)})",
            highlight=False,
            soft_wrap=True,
        )
    changed = {k: v for k, v in spec.loop.items() if loop_before.get(k, object()) != v}
    if changed:
        console.print(
            f"loop parameters set: {escape(str(changed))}", highlight=False, soft_wrap=True
        )
    defaults = {
        f"{slot}.{key}": value
        for slot, params in spec.defaults.items()
        for key, value in params.items()
        if defaults_before.get(slot, {}).get(key, object()) != value
    }
    if defaults:
        console.print(
            f"parameter defaults set (used unless the spec or -p sets them): "
            f"{escape(str(defaults))}",
            highlight=False,
            soft_wrap=True,
        )


def _ask_pip(yes: bool):
    """The approval ``install`` asks before pip runs: shows the exact packages, then
    --yes, an interactive yes, or a refusal (exit 2) when nobody can answer."""
    import sys

    from agentos.cli.console import err_console, escape

    def approve(requirements: list[str]) -> bool:
        err_console.print(
            "These components need Python packages; pip would run:\n  pip install -- "
            + " ".join(escape(repr(r) if " " in r else r) for r in requirements),
            highlight=False,
            soft_wrap=True,
        )
        if yes:
            return True
        if not sys.stdin.isatty():
            from agentos.errors import AgentOSError

            raise AgentOSError(
                "installing Python packages needs your consent, and this session cannot ask",
                where="agentos install",
                fix="check the packages above and rerun with --yes; nothing was changed",
            )
        return typer.confirm("Install them?", default=False, err=True)

    return approve


def uninstall(
    name: str = typer.Argument(..., help="A component name, registry name or bundle name."),
    agent: Path = AgentOption,
) -> None:
    """Remove a component (or every component of a bundle) from agentos.yaml."""
    from agentos.cli.console import console, escape
    from agentos.components.install import uninstall as uninstall_name

    for slot in uninstall_name(agent, name):
        console.print(f"uninstalled {escape(slot)}", highlight=False)


def list_components(agent: Path = AgentOption, registry: list[str] = RegistryOption) -> None:
    """List the components and bundles the registries offer."""
    from rich.table import Table

    from agentos.cli.console import console, escape
    from agentos.components.registry import GYM_PREFIX, load_registries, normalise
    from agentos.components.spec import SPEC_FILENAME, load_spec

    agent_dir = Path(agent).resolve()
    known: list[str] = []
    installed: dict[str, str] = {}
    if (agent_dir / SPEC_FILENAME).is_file():
        spec = load_spec(agent_dir)
        known = list(spec.registries)
        installed = {c.registry_name: c.name for c in spec.components.values() if c.registry_name}
    extra = [normalise(r, Path.cwd(), agent_dir) for r in registry or []]
    reg = load_registries(known + [r for r in extra if r not in known], agent_dir)

    table = Table(
        title="Registry components and bundles",
        title_justify="left",
        caption="NAME -> SLOT: installed in this agent under SLOT. Install with "
        "`agentos install NAME`.",
        caption_justify="left",
    )
    # Names are typed back, so never cut; version and source only where there is room.
    wide = console.width >= 120
    table.add_column("name", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("role", no_wrap=True)
    if wide:
        table.add_column("version", no_wrap=True)
        table.add_column("source", overflow="fold")
    table.add_column("description", ratio=1, overflow="fold", min_width=20)

    def row(name: str, kind: str, role: str, version: str, source: str, text: str) -> None:
        cells = [escape(name), kind, role]
        if wide:
            cells += [escape(version), escape(source)]
        table.add_row(*cells, escape(text))

    for e in reg.entries.values():
        name = e.name + (f" -> {installed[e.name]}" if e.name in installed else "")
        row(name, "component", e.role, e.version, e.origin.describe(), e.description)
    if reg.gym_template is not None:
        t = reg.gym_template
        row(f"{GYM_PREFIX}<id>", "component", t.role, t.version, t.origin.describe(), t.description)
    for b in reg.bundles.values():
        text = f"{b.description} [{', '.join(b.components)}]"
        row(b.name, "bundle", "-", "-", b.origin.describe(), text)
    console.print(table)
