"""Errors a user can fix: the CLI prints them as one message and exits 2."""

from __future__ import annotations


class AgentOSError(Exception):
    """A problem with the user's input (spec, parameters, command line) or environment.

    The message names where the problem is (file and key) and how to fix it; the CLI
    prints it without a traceback and exits with code 2.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        # gymnasium's AsyncVectorEnv re-raises a worker's error as ``type(error)(error)``
        message = str(message)
        self.message = message
        self.where = where
        self.fix = fix
        parts = [f"{where}: {message}" if where else message]
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__("\n".join(parts))


class SpecError(AgentOSError):
    """The agent spec (agentos.yaml) is malformed or inconsistent."""


class ParameterError(AgentOSError):
    """A parameter is unknown, has the wrong type, or a reference cannot be resolved."""


class GraphError(AgentOSError):
    """The component dependency graph is invalid (missing dependency, cycle, wrong role)."""


class IncompatibleComponentsError(GraphError):
    """A component lacks what a component that depends on it needs (parts of two agents)."""


class IncompatibleSpaceError(AgentOSError):
    """A component cannot handle the environment's observation or action space."""


class RegistryError(AgentOSError):
    """A component or bundle name is not in any registry, or a registry cannot be read."""


class IntegrityError(AgentOSError):
    """An installed component's files no longer match the hash recorded at install time."""


class CheckpointError(AgentOSError):
    """A checkpoint is missing or unreadable."""


class RunNotFoundError(AgentOSError):
    """A tracked run id does not exist."""


def raised_at(error: BaseException) -> str:
    """`` at FILE:LINE`` of the innermost frame ``error`` was raised in ('' if unknown), so a
    message about user code names the line without a traceback."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    return f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
