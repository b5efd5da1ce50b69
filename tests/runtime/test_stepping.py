"""The loop's small shared rules (``agentos.runtime.stepping``)."""

from __future__ import annotations

import pytest


def test_a_nan_or_infinite_loss_stops_learning_with_a_clear_error():
    from agentos.errors import AgentOSError
    from agentos.runtime.stepping import check_finite_losses

    check_finite_losses({"loss": 0.5, "q_mean": float("nan")}, 10)  # only losses are checked
    for bad in (float("nan"), float("inf")):
        with pytest.raises(AgentOSError, match=r"diverged at learner update 7: idm_loss = ") as e:
            check_finite_losses({"loss": 1.0, "idm_loss": bad}, 7)
        assert "learning_rate" in e.value.fix
