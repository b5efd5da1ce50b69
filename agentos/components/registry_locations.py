"""Where a registry is: a YAML file or a git repository, named in the spec's ``registries:`` or
with ``--registry`` (``parse_location``, ``normalise``); a local git folder is checked to be a
repository, and registry YAML is read with errors that name the line. Fetching a git registry
at its commit is ``sources.git_checkout``; ``registry`` turns what is read into the index.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from agentos.errors import RegistryError

logger = logging.getLogger("agentos.components.registry")

REGISTRY_FILENAME = "agentos-registry.yaml"
"""The index file at the root of a git registry."""


@dataclass(frozen=True)
class Location:
    """A parsed registry string."""

    kind: str
    """``file`` or ``git``."""
    target: str
    """The YAML file path (file) or the clone URL (git)."""
    rev: str | None = None
    """git only: the revision after ``@``."""


def parse_location(text: str, base_dir: Path) -> Location:
    """Classify a registry string; relative paths are relative to ``base_dir``."""
    text = text.strip()
    if not text:
        raise RegistryError(
            "an empty registry name: it would stand for the agent folder itself",
            fix="give a YAML registry file, a git repository folder or git+URL[@rev] "
            "(e.g. --registry ../my-registry.yaml)",
        )
    if text.startswith("git+"):
        url, rev = _split_rev(text[4:])
        return Location("git", url, rev)
    if text.startswith("file://"):
        parts = urlsplit(text)
        path = Path(unquote(parts.path))
        rev = None
        if not path.exists() and "@" in path.name:
            head, _, rev = str(path).rpartition("@")
            path = Path(head)
        return _local_location(path, rev, text)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise RegistryError(
            f"unsupported registry URL '{text}'",
            fix="give a YAML file, a local git folder, or a git repository as git+URL[@rev] "
            "(e.g. git+https://github.com/org/repo.git@v1)",
        )
    path = Path(text).expanduser()
    path = path if path.is_absolute() else Path(base_dir) / path
    rev = None
    if not path.exists() and "@" in path.name:
        head, _, rev = str(path).rpartition("@")
        path = Path(head)
    return _local_location(path, rev, text)


def _local_location(path: Path, rev: str | None, text: str) -> Location:
    path = path.resolve()
    if path.is_file() and rev is None:
        return Location("file", str(path))
    if path.is_dir():
        return Location("git", path.as_uri(), rev)
    if path.is_file():
        raise RegistryError(
            f"registry '{text}': a YAML file has no revisions (@{rev} applies to git repositories)",
            fix=f"give {path} without @{rev}, or the git repository folder that holds it with @REV",
        )
    if path.exists():
        raise RegistryError(
            f"registry '{text}' is neither a YAML file nor a folder ({path})",
            fix="give an existing YAML registry file or git repository folder",
        )
    raise RegistryError(
        f"registry '{text}' not found ({path} does not exist)",
        fix="give an existing YAML registry file or git repository folder",
    )


def _split_rev(url: str) -> tuple[str, str | None]:
    """``URL@rev`` -> (URL, rev); an '@' in the host part (git@host) is not a revision."""
    if "://" in url:
        parts = urlsplit(url)
        if "@" in parts.path:
            path, _, rev = parts.path.rpartition("@")
            return parts._replace(path=path).geturl(), rev or None
        return url, None
    at = url.rfind("@")
    if at > url.rfind(":"):
        return url[:at], url[at + 1 :] or None
    return url, None


def normalise(text: str, cwd: Path, agent_dir: Path) -> str:
    """A registry string as stored in the spec: local paths made relative to the agent folder."""
    text = text.strip()
    if not text:
        return text  # refused by parse_location, not taken for the current folder
    if text.startswith(("git+", "file://")) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        return text
    path = Path(text).expanduser()
    path = (path if path.is_absolute() else Path(cwd) / path).resolve()
    try:
        return path.relative_to(Path(agent_dir).resolve()).as_posix()
    except ValueError:
        return str(path)


def _check_local_repo(url: str) -> None:
    """A local registry folder must be a git repository.

    The folder is only named by the user: git runs in it with hooks and fsmonitor off, and
    only ``rev-parse`` (no ``status``, which would run the folder's filters and fsmonitor).
    Installs read its committed files (a clone), never the working tree.
    """
    if not url.startswith("file://"):
        return
    from agentos.components.safe_git import run_git

    folder = Path(unquote(urlsplit(url).path))
    if not folder.is_dir():
        return
    proc = run_git(["rev-parse", "--is-inside-work-tree"], folder)
    if proc.returncode != 0 and "true" not in proc.stdout and (folder / "HEAD").is_file():
        proc = run_git(["rev-parse", "--git-dir"], folder)  # a bare repository
    if proc.returncode != 0:
        raise RegistryError(
            f"{folder} is a folder but not a git repository",
            fix="make it one (`git init && git add -A && git commit -m registry`) so installs "
            f"are pinned to a commit, or pass the path of its {REGISTRY_FILENAME} as a YAML-file "
            "registry",
        )
    logger.info("registry %s: only committed files are installed (commit changes first)", folder)


def _load_yaml(path: Path) -> Any:
    import yaml

    from agentos.components.strict_yaml import decode_utf8, load_yaml
    from agentos.errors import SpecError

    try:
        return load_yaml(decode_utf8(path.read_bytes(), path), path)
    except OSError as e:
        raise RegistryError(
            f"cannot read registry {path}: {e.strerror or e}",
            fix="check that the file exists and that you may read it",
        ) from None
    except SpecError as e:  # not UTF-8, or a key given twice
        raise RegistryError(str(e).split("\nFix:")[0], fix=e.fix) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        loc = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RegistryError(
            f"malformed YAML: {problem}", where=loc, fix="correct the YAML syntax at that line"
        ) from None
