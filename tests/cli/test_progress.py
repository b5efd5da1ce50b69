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


def test_a_learn_refused_before_its_first_step_prints_no_bar_and_no_blank_line(
    agent_dir, cli
) -> None:
    """The agent of `agentos init` has no learner: the error stands alone on stderr."""
    code, out, err = cli("learn", "--steps", "300", "--agent", agent_dir)
    assert code == 2, err
    assert out == "", repr(out)
    assert err.startswith("Error:") and "no learner" in err


def test_the_bar_is_drawn_from_the_first_progress_report(agent_dir, cli) -> None:
    assert cli("install", "dqn", "corridor", "--agent", agent_dir)[0] == 0
    code, out, err = cli(
        "learn", "--steps", "200", "-p", "loop.min_replay_size=50", "--agent", agent_dir
    )
    assert code == 0, err
    assert "200/200" in out


def test_numbers_are_never_minus_zero():
    from agentos.cli.console import number

    assert [number(-0.04), number(-0.0), number(2.345, 2), number(-1.26), number(None)] == [
        "0.0",
        "0.0",
        "2.35",
        "-1.3",
        "-",
    ]
