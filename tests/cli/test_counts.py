"""Counts on the command line (--steps, --episodes, --video-every) as people write them."""

from __future__ import annotations

import pytest
import typer

from agentos.cli.common import count_parser


@pytest.mark.parametrize(
    "text, value",
    [("50000", 50_000), ("50_000", 50_000), ("5e4", 50_000), ("50k", 50_000), ("1M", 10**6),
     ("1.5k", 1_500), (" 2G ", 2 * 10**9), ("9223372036854775807", 2**63 - 1)],
)  # fmt: skip
def test_a_count_is_read_in_every_usual_form(text, value):
    assert count_parser(1)(text) == value


@pytest.mark.parametrize(
    "text, says",
    [("1.5", "not a whole number"), ("0", "or equal to 1"), ("-3", "or equal to 1"),
     ("x", "not an integer count"), ("1e400", "too large"), ("nan", "too large or not a number"),
     ("2**63", "not an integer count"), ("9223372036854775808", "at most 2**63 - 1")],
)  # fmt: skip
def test_a_bad_count_says_what_is_wrong(text, says):
    with pytest.raises(typer.BadParameter, match=says.replace("*", r"\*")):
        count_parser(1)(text)


def test_zero_is_a_count_where_zero_means_never():
    assert count_parser(0)("0") == 0


def test_learn_refuses_a_fractional_step_count_with_exit_2(cli, agent_dir):
    code, out, err = cli("learn", "--steps", "1.5", "--agent", agent_dir)
    assert code == 2 and "not a whole number" in out + err and "Traceback" not in out + err
