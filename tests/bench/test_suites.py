"""Suites are checked when they are read (``agentos.bench.suites``)."""

from __future__ import annotations

import pytest

from agentos.bench.suites import get_suite
from agentos.errors import ParameterError


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"steps": 0}, "steps must be >= 1, got 0"),
        ({"seeds": [0, -1]}, "seeds must be >= 0, got -1"),
        ({"envs": []}, "envs is empty"),
        ({"seeds": []}, "seeds is empty"),
        ({"tolerance": -1}, "tolerance must be >= 0"),
        ({"eval_episodes": 0}, "eval_episodes must be >= 1"),
    ],
)
def test_a_suite_that_would_run_nothing_or_wrongly_is_refused(raw, message):
    with pytest.raises(ParameterError, match=message) as e:
        get_suite("q", {"q": raw}, "agentos.yaml")
    assert "bench.q" in str(e.value)


def test_a_good_suite_and_the_builtin_ones_pass():
    assert get_suite("q", {"q": {"seeds": [3]}}, "agentos.yaml").seeds == (3,)
    assert get_suite("cartpole", {}, "agentos.yaml").steps == 50_000
