"""A finished run's status never gets worse because a later command failed.

``agentos learn --resume`` reopens a run; if that command then fails or is stopped, the run
still holds everything it had when it finished (metrics, checkpoint), so it is closed as
FINISHED again, with a tag that records what happened to the resume.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

TAG_RESUME_FAILED = "agentos.resume_failed"


def keep_finished(tracker: Any, status: str, exc: BaseException | None) -> str:
    """The status to close a reopened, previously FINISHED run with: FINISHED, tagged."""
    reason = f"{status}: {type(exc).__name__}: {exc}" if exc is not None else status
    try:
        tracker.set_tags({TAG_RESUME_FAILED: reason.splitlines()[0][:500]})
    except Exception:  # the tag is a courtesy; closing the run matters more
        logger.debug("could not tag run %s", tracker.run_id, exc_info=True)
    logger.warning(
        "run %s was FINISHED before this resume, which ended %s; it stays FINISHED",
        tracker.run_id,
        status,
    )
    return "FINISHED"
