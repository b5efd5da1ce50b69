"""``agentos rerun`` refuses runs it cannot reproduce (``agentos.tracking.rerun``)."""

from __future__ import annotations


def test_a_failed_run_is_not_rerun(agent_dir, cli, failed_run):
    from agentos.tracking.store import list_runs

    code, out, err = cli("rerun", failed_run, "--agent", agent_dir)
    assert code == 2 and "Traceback" not in err
    assert "FAILED, so it has no result to reproduce" in err
    assert list_runs(agent_dir)[0].run_id == failed_run  # nothing was run
