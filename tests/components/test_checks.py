"""Range checks of the Python API and the loop section (the CLI has its own, see
tests/cli/test_bad_inputs.py)."""

from __future__ import annotations

import pytest

from agentos.components.checks import check_counts, check_loop_params, parameter_fix
from agentos.errors import ParameterError
from agentos.runtime.loop import LoopParams


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"steps": 0}, "steps"),
        ({"steps": -5}, "steps"),
        ({"episodes": 0}, "episodes"),
        ({"seed": -1}, "seed"),
    ],
)
def test_api_counts_are_checked(kwargs, key) -> None:
    with pytest.raises(ParameterError) as info:
        check_counts(**kwargs)
    assert f"{key} must be >=" in str(info.value) and "Fix:" in str(info.value)


def test_good_counts_pass() -> None:
    import numpy as np

    check_counts(steps=1, episodes=1, seed=0)
    check_counts(steps=np.int64(5), seed=np.int32(1))


@pytest.mark.parametrize(
    "key, value",
    [("eval_episodes", 0), ("log_every", 0), ("sync_every", 0), ("checkpoint_every", -1)],
)
def test_loop_params_are_checked(key, value) -> None:
    with pytest.raises(ParameterError) as info:
        check_loop_params(LoopParams(**{key: value}), "agentos.yaml: loop")
    message = str(info.value)
    assert f"agentos.yaml: loop.{key}" in message and f"-p loop.{key}=VALUE" in message


def test_defaults_and_zero_meaning_only_at_the_end_pass() -> None:
    check_loop_params(LoopParams(), "loop")
    check_loop_params(LoopParams(eval_every=0, checkpoint_every=0, min_replay_size=0), "loop")


def test_parameter_fix_names_the_override() -> None:
    fix = parameter_fix("capacity must be >= 1, got 0", "a.yaml: components.replay.params")
    assert "-p replay.capacity=VALUE" in fix and "components.replay.params.capacity" in fix
    fix = parameter_fix(
        "unknown activation 'foo'; choose one of elu", "a.yaml: components.network.params"
    )
    assert "-p network.activation=VALUE" in fix
    fix = parameter_fix("the widths cannot be mixed", "a.yaml: components.network.params")
    assert "KEY" not in fix and "-p network.NAME=VALUE" in fix


def test_batch_fits_the_replay_capacity_parameter() -> None:
    from types import SimpleNamespace

    from agentos.components.checks import check_batch_fits

    replay = SimpleNamespace(params=SimpleNamespace(capacity=10))
    check_batch_fits(10, replay)
    with pytest.raises(ParameterError, match="batch_size=11 is more than replay.capacity=10"):
        check_batch_fits(11, replay)
    check_batch_fits(11, SimpleNamespace(capacity=5, params=None))  # a dataset: checked elsewhere


@pytest.mark.parametrize(
    "kwargs",
    [{"steps": "100"}, {"steps": 1.5}, {"steps": float("nan")}, {"steps": True}, {"seed": "a"}],
)
def test_api_counts_must_be_whole_numbers(kwargs):
    with pytest.raises(ParameterError, match="must be a whole number"):
        check_counts(**kwargs)
