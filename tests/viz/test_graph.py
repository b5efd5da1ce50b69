"""`agentos show --graph`: a picture and a text version naming every component."""

from __future__ import annotations


def test_graph_file_and_text_name_every_component(agent_dir, cli):
    assert cli("install", "r2d2", "cartpole", "--agent", agent_dir)[0] == 0
    svg = agent_dir / "agent.svg"
    code, out, err = cli("show", "--graph", svg, "--agent", agent_dir)
    assert code == 0, err
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text
    for name in ("environment", "network", "replay", "actor", "learner", "R2D2Learner"):
        assert name in text
    assert "network is one instance shared by actor, learner" in out
    assert "learner -> actor: variables" in out and "actor -> replay" in out
    png = agent_dir / "agent.png"
    assert cli("show", "--graph", png, "--agent", agent_dir)[0] == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
