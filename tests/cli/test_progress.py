"""The learn progress bar's evaluation column."""

from __future__ import annotations

from agentos.cli.progress import eval_text
from agentos.runtime.loop import Counters
from agentos.runtime.reporting import Progress


def _progress(last_eval, evaluating=None):
    return Progress(Counters(), 100, None, 1.0, last_eval, evaluating=evaluating)


def test_the_eval_column_shows_the_last_return_or_the_evaluation_playing():
    assert eval_text(_progress(None)) == "-"
    assert eval_text(_progress(12.345)) == "12.3"
    assert eval_text(_progress(12.345, (2, 10))) == "playing 2/10 episodes"
