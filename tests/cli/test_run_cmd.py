"""`agentos run`: Ctrl-C says it was interrupted (as learn does) and exits 130."""

from __future__ import annotations

from pathlib import Path


def test_interrupt_prints_one_line_and_exits_130(agent_dir: Path, cli, monkeypatch) -> None:
    from agentos.api import Agent

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(Agent, "run", interrupted)
    code, out, err = cli("run", "-e", "1", "--agent", agent_dir)
    assert code == 130, (code, out, err)
    assert "Interrupted: evaluation stopped, run marked KILLED." in out
    assert "Traceback" not in out + err
