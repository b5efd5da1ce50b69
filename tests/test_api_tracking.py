"""Signals around a tracked command (``agentos.api_tracking``)."""

from __future__ import annotations

import os
import signal

import pytest


def test_a_signal_while_the_agent_is_built_ends_learn_before_a_run_exists(agent_dir, cli):
    from agentos.api import load_agent
    from agentos.api_tracking import _InterruptFlag, interrupts_from_the_start
    from agentos.tracking.store import list_runs

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    before = [r.run_id for r in list_runs(agent_dir)]
    # not always Python's default: a CI started in the background inherits SIGINT ignored
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="before the run started"):
        with interrupts_from_the_start():
            os.kill(os.getpid(), signal.SIGINT)  # remembered, not raised where it lands
            assert _InterruptFlag.requested
            load_agent(agent_dir, []).learn(200)
    assert [r.run_id for r in list_runs(agent_dir)] == before
    assert not _InterruptFlag.requested
    assert signal.getsignal(signal.SIGINT) is handler  # the handler from before, restored
