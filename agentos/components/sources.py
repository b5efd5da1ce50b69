"""Where a component's code comes from: content hashes, git checkouts, class loading.

A component in the spec has one of three sources:

* ``builtin``: ``module`` is an importable Python module (the agentos package, or any installed
  package a YAML-file registry names); its ``.py`` file is hash-checked.
* ``git``: ``module`` is a ``.py`` path inside a git repository checked out at ``commit`` under
  ``<agent_dir>/.agentos/sources/<name>-<commit[:12]>/``; the file is hash-checked.
* ``local``: ``module`` is a ``.py`` path relative to the agent folder. Local components are the
  user's own, editable code: they are re-read on every load and never hash-checked.

Only the git command line is used for git (``subprocess``), and only with the URL given.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import traceback
import uuid
from pathlib import Path

from agentos.components.safe_git import git_command, git_env, run_git
from agentos.components.spec import SPEC_FILENAME, ComponentSpec
from agentos.errors import IntegrityError, RegistryError, SpecError

logger = logging.getLogger(__name__)

SOURCES_DIR = Path(".agentos") / "sources"
"""Where git checkouts live, relative to the agent folder."""
GIT_TIMEOUT_S = 600
"""Longest a single git command may take."""
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_LOCAL_HINT = "to edit a component freely, copy it into the agent folder as a local component"


# ----------------------------------------------------------------------------- hashes


def content_hash(paths: list[Path]) -> str:
    """``sha256:<hex>`` over the files' names (relative to their common folder) and bytes."""
    resolved = [Path(p).resolve() for p in paths]
    if not resolved:
        return "sha256:" + hashlib.sha256().hexdigest()
    base = Path(os.path.commonpath([p.parent for p in resolved]))
    digest = hashlib.sha256()
    for rel, path in sorted((p.relative_to(base).as_posix(), p) for p in resolved):
        data = path.read_bytes()
        digest.update(rel.encode() + b"\0")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return "sha256:" + digest.hexdigest()


# ----------------------------------------------------------------------------- git


def sanitise(url: str) -> str:
    """A folder-name-safe short name for a repository URL (its last path part)."""
    from urllib.parse import unquote

    tail = unquote(url).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if tail.endswith(".git"):
        tail = tail[:-4]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.").lower()
    return name or "repo"


def checkout_dir(agent_dir: Path, url: str, commit: str) -> Path:
    """The folder holding ``url`` checked out at ``commit`` for this agent."""
    return Path(agent_dir) / SOURCES_DIR / f"{sanitise(url)}-{commit[:12]}"


def _git(args: list[str], *, cwd: Path | None = None, what: str) -> str:
    """Run ``git ARGS``; a failure becomes a RegistryError with git's last lines."""
    cmd = git_command(args)
    logger.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=git_env(), capture_output=True, text=True, timeout=GIT_TIMEOUT_S
        )
    except FileNotFoundError:
        raise RegistryError(
            f"cannot {what}: the `git` command is not installed",
            fix="install git (e.g. `apt-get install git`), or use a YAML-file registry",
        ) from None
    except subprocess.TimeoutExpired:
        raise RegistryError(
            f"cannot {what}: git took longer than {GIT_TIMEOUT_S} s",
            fix="check the URL and your network",
        ) from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RegistryError(
            f"cannot {what}: git failed:\n  " + "\n  ".join(lines),
            fix="check the repository URL and revision (branch, tag or commit)",
        )
    return proc.stdout


def _remote_commit(url: str, rev: str) -> str | None:
    """The commit ``rev`` (a branch, tag or HEAD) names at ``url``, if unambiguous."""
    if _SHA_RE.match(rev):
        return rev
    out = _git(["ls-remote", url, rev], what=f"read {url}")
    refs: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        refs[ref] = sha
    candidates = {
        ref.removesuffix("^{}"): sha
        for ref, sha in sorted(refs.items(), key=lambda kv: kv[0].endswith("^{}"))
        if ref in (rev, f"refs/heads/{rev}", f"refs/tags/{rev}", f"refs/tags/{rev}^{{}}")
    }
    if len(candidates) == 1:
        return next(iter(candidates.values()))
    return None


def git_checkout(url: str, rev: str | None, agent_dir: Path) -> tuple[str, Path]:
    """Clone ``url`` at ``rev`` (default: its HEAD) for this agent; returns (commit, folder)."""
    rev = rev or "HEAD"
    commit = _remote_commit(url, rev)
    if commit is not None:
        target = checkout_dir(agent_dir, url, commit)
        if _is_checkout_of(target, commit):
            logger.debug("reusing checkout %s", target)
            return commit, target
    sources = Path(agent_dir) / SOURCES_DIR
    sources.mkdir(parents=True, exist_ok=True)
    tmp = sources / f".clone-{uuid.uuid4().hex[:8]}"
    try:
        logger.info("cloning %s", url)
        _git(["clone", "--quiet", "--no-checkout", "--", url, str(tmp)], what=f"clone {url}")
        commit = _resolve_rev(tmp, rev, url)
        _git(["checkout", "--quiet", "--detach", commit], cwd=tmp, what=f"check out {rev}")
        target = checkout_dir(agent_dir, url, commit)
        if _is_checkout_of(target, commit):
            return commit, target
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
        return commit, target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _resolve_rev(repo: Path, rev: str, url: str) -> str:
    for candidate in (rev, f"origin/{rev}"):
        proc = run_git(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], repo)
        if proc.returncode == 0:
            return proc.stdout.strip()
    raise RegistryError(
        f"revision '{rev}' not found in {url}",
        fix="give an existing branch, tag or commit after '@' (e.g. git+file:///repo@main)",
    )


def _is_checkout_of(folder: Path, commit: str) -> bool:
    """Whether ``folder`` is a clean checkout of ``commit`` (edited files are not reused)."""
    if not (folder / ".git").exists():
        return False
    head = run_git(["rev-parse", "HEAD"], folder)
    if head.returncode != 0 or head.stdout.strip() != commit:
        return False
    status = run_git(["status", "--porcelain", "--untracked-files=no"], folder)
    if status.returncode != 0 or status.stdout.strip():
        logger.warning("%s has local edits; fetching %s again", folder, commit[:12])
        return False
    return True


def ensure_checkout(cspec: ComponentSpec, agent_dir: Path) -> Path:
    """The checkout of a git component, cloned again from its URL if it is missing."""
    if not (cspec.url and cspec.commit):
        raise SpecError(
            "a git component needs 'url' and 'commit'",
            where=f"{Path(agent_dir) / SPEC_FILENAME}: {cspec.where}",
            fix=f"reinstall it with `agentos install {cspec.registry_name or cspec.name}`",
        )
    folder = checkout_dir(agent_dir, cspec.url, cspec.commit)
    if not folder.is_dir():
        logger.info("checkout of %s@%s missing; cloning it", cspec.url, cspec.commit[:12])
        _, folder = git_checkout(cspec.url, cspec.commit, agent_dir)
    return folder


# ----------------------------------------------------------------------------- files


def component_files(cspec: ComponentSpec, agent_dir: Path) -> list[Path]:
    """The source files of a component (what its hash covers); nothing is imported."""
    agent_dir = Path(agent_dir)
    where = f"{agent_dir / SPEC_FILENAME}: {cspec.where}.module"
    if cspec.source == "builtin":
        return [_builtin_file(cspec, where)]
    if cspec.source == "git":
        base = checkout_dir(agent_dir, cspec.url or "", cspec.commit or "")
        path = base / cspec.module
        if not _inside(path, base):
            raise SpecError(
                f"module '{cspec.module}' points outside the repository checkout {base}",
                where=where,
                fix="a git component's module must be a .py path inside its repository; "
                "correct the registry entry",
            )
        if not path.is_file():
            raise SpecError(
                f"file '{cspec.module}' not found in the checkout {base}",
                where=where,
                fix=f"reinstall with `agentos install {cspec.registry_name or cspec.name}`",
            )
        # The whole checkout: the module imports its siblings, so an edited helper.py counts.
        return [path, *(p for p in checkout_files(base) if p != path)]
    path = agent_dir / cspec.module
    if path.suffix != ".py":
        raise SpecError(
            f"a local component's module must be a .py file, got '{cspec.module}'",
            where=where,
            fix="give the path of a .py file relative to the agent folder (e.g. my_actor.py), "
            "or `source: builtin` for an importable module",
        )
    if not cspec.allow_outside_agent and not _inside(path, agent_dir):
        raise SpecError(
            f"local module '{cspec.module}' is outside the agent folder {agent_dir.resolve()} "
            "(it would be imported and run)",
            where=where,
            fix="copy the file into the agent folder and give its relative path, or, if you "
            f"trust it, add `allow_outside_agent: true` to {cspec.where}",
        )
    if not path.is_file():
        raise SpecError(
            f"local module file {path} not found",
            where=where,
            fix="give the path of a .py file relative to the agent folder (e.g. my_actor.py)",
        )
    return [path]


def checkout_files(folder: Path) -> list[Path]:
    """Every file of a git checkout except git's own (``.git``), sorted."""
    return sorted(
        p
        for p in Path(folder).rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts[:1]
    )


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``folder``."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except OSError:
        return False


def _builtin_file(cspec: ComponentSpec, where: str) -> Path:
    try:
        found = importlib.util.find_spec(cspec.module)
    except (ImportError, ValueError) as e:
        found = None
        logger.debug("find_spec(%s) failed: %s", cspec.module, e)
    if found is None or not found.origin or not Path(found.origin).is_file():
        raise SpecError(
            f"module '{cspec.module}' not found",
            where=where,
            fix="check the module name, or install the package that provides it; "
            "`agentos list` shows the builtin components",
        )
    return Path(found.origin)


def verify(cspec: ComponentSpec, agent_dir: Path) -> None:
    """Raise IntegrityError if a builtin/git component's files changed since install, or if
    an installed one has no recorded hash (deleting the ``hash:`` line is no way around it)."""
    if cspec.source == "local":
        return
    if not cspec.hash:
        if cspec.registry_name or cspec.source == "git":
            name = cspec.registry_name or cspec.name
            raise IntegrityError(
                f"'{name}' was installed from a registry but has no recorded hash, so its "
                "files cannot be checked",
                where=f"{Path(agent_dir) / SPEC_FILENAME}: {cspec.where}.hash",
                fix=f"reinstall it with `agentos install {name}` (records the hash); "
                + _LOCAL_HINT,
            )
        return
    files = component_files(cspec, agent_dir)
    actual = content_hash(files)
    if actual == cspec.hash:
        return
    name = cspec.registry_name or cspec.name
    origin = f"module {cspec.module}" if cspec.source == "builtin" else f"{cspec.url}"
    at = f"@{cspec.commit[:12]}" if cspec.commit else ""
    changed = str(files[0]) + (
        f" (or one of the {len(files) - 1} other files of its checkout)" if len(files) > 1 else ""
    )
    if cspec.source == "git":
        checkout = checkout_dir(agent_dir, cspec.url or "", cspec.commit or "")
        fix = (
            f"restore them: delete {checkout} (the next load fetches the recorded commit again) "
            f"or reinstall with `agentos install {name}`; {_LOCAL_HINT}"
        )
    else:
        fix = (
            f"reinstall with `agentos install {name}` to accept the new files, or restore them; "
            + _LOCAL_HINT
        )
    raise IntegrityError(
        f"the files of '{name}' {cspec.version or ''} (from {origin}{at}) changed since it "
        f"was installed: {changed} (recorded {cspec.hash[:19]}..., now {actual[:19]}...)",
        where=f"{Path(agent_dir) / SPEC_FILENAME}: {cspec.where}",
        fix=fix,
    )


# ----------------------------------------------------------------------------- loading


def load_component_class(cspec: ComponentSpec, agent_dir: Path) -> type:
    """The class of a component: verified against its hash (builtin/git), then imported."""
    agent_dir = Path(agent_dir)
    if cspec.source == "git":
        ensure_checkout(cspec, agent_dir)
    verify(cspec, agent_dir)
    path = None
    if cspec.source == "builtin":
        module = _import_builtin(cspec, agent_dir)
        origin = cspec.module
    else:
        path = component_files(cspec, agent_dir)[0].resolve()
        module = import_file(path, cspec.source)
        origin = str(path)
    cls = getattr(module, cspec.class_name, None)
    if cls is not None and not isinstance(cls, type):
        raise SpecError(
            f"'{cspec.class_name}' in {origin} is a {type(cls).__name__}, not a class",
            where=f"{agent_dir / SPEC_FILENAME}: {cspec.where}.class",
            fix="name a class: a subclass of one of agentos.runtime.roles (Environment, Actor, "
            "Learner, ...) or, for the environment, of gymnasium.Env",
        )
    if not isinstance(cls, type):
        defined = sorted(
            k
            for k, v in vars(module).items()
            if isinstance(v, type) and getattr(v, "__module__", None) == module.__name__
        )
        close = difflib.get_close_matches(cspec.class_name, defined, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        listing = ", ".join(defined) if defined else "none"
        raise SpecError(
            f"class '{cspec.class_name}' not found in {origin}",
            where=f"{agent_dir / SPEC_FILENAME}: {cspec.where}.class",
            fix=f"{hint}classes defined there: {listing}",
        )
    if getattr(cls, "role", None) is None and _is_gym_env_class(cls):
        from agentos.envs.gym_env import environment_for_class

        if path is None:
            return environment_for_class(cls, module=cspec.module)
        return environment_for_class(cls, file=str(path))
    return cls


def _is_gym_env_class(cls: type) -> bool:
    """Whether ``cls`` subclasses gymnasium.Env (checked without importing gymnasium)."""
    return any(
        base.__name__ == "Env" and base.__module__.startswith("gymnasium") for base in cls.__mro__
    )


def _import_builtin(cspec: ComponentSpec, agent_dir: Path):
    try:
        return importlib.import_module(cspec.module)
    except ImportError as e:
        if logger.isEnabledFor(logging.DEBUG):
            raise
        missing = getattr(e, "name", None)
        if missing and (cspec.module == missing or cspec.module.startswith(missing + ".")):
            fix = "check the module name; `agentos list` shows the registry's components"
        else:
            fix = "install what it needs (`agentos install` installs declared requirements)"
        raise SpecError(
            f"cannot import module '{cspec.module}': {_last_line(e)}",
            where=f"{agent_dir / SPEC_FILENAME}: {cspec.where}.module",
            fix=fix,
        ) from None


def _module_name(path: Path, source: str) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"agentos_{source}_{stem}_{digest}"


def import_file(path: Path, source: str):
    """Execute a .py file as a fresh module (sibling files importable); errors name the file."""
    name = _module_name(path, source)
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    try:
        # compile from the source every time (no stale .pyc): local files are edited freely
        code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        exec(code, module.__dict__)
    except BaseException as e:
        sys.modules.pop(name, None)
        if isinstance(e, (KeyboardInterrupt, SystemExit)) or logger.isEnabledFor(logging.DEBUG):
            raise
        raise SpecError(
            f"importing {path} failed: {_last_line(e)}",
            where=f"{path}:{_error_line(e, path)}" if _error_line(e, path) else str(path),
            fix="fix the error in that file (run with --debug for the full traceback)",
        ) from None
    return module


def _last_line(e: BaseException) -> str:
    return traceback.format_exception_only(type(e), e)[-1].strip()


def _error_line(e: BaseException, path: Path) -> int | None:
    """The line of ``path`` where ``e`` was raised (or the syntax error's line)."""
    if isinstance(e, SyntaxError) and e.filename and Path(e.filename) == path:
        return e.lineno
    line = None
    for frame in traceback.extract_tb(e.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line
