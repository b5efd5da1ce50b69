"""Make a class written into the agent folder its environment, as a user's ``source: local``."""

from __future__ import annotations

from pathlib import Path

import yaml


def use_local_environment(
    agent: Path, source: str, module: str, class_name: str, **entry: object
) -> None:
    """Write SOURCE as AGENT/MODULE and make CLASS_NAME the spec's environment component;
    ``entry`` adds keys to the component (``params``, ``role``)."""
    (agent / module).write_text(source)
    path = agent / "agentos.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["components"]["environment"] = {
        "source": "local",
        "module": module,
        "class": class_name,
        **entry,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
