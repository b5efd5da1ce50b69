"""`agentos bench` passes on the unchanged agent and catches a planted regression."""

from __future__ import annotations

import json

import yaml

from agentos.bench.runner import EntryResult, judge


def test_judge_thresholds():
    results = [EntryResult("cartpole", {0: 80.0, 1: 100.0}, {}, 1.0)]
    assert judge(results, {"cartpole": 100.0}, 0.2)[0].passed  # 90 >= 80
    assert not judge(results, {"cartpole": 120.0}, 0.2)[0].passed  # 90 < 96
    negative = [EntryResult("corridor", {0: -12.0}, {}, 1.0)]
    assert judge(negative, {"corridor": -10.0}, 0.2)[0].passed  # -12 >= -12
    assert not judge(negative, {"corridor": -9.0}, 0.2)[0].passed
    assert judge(results, None, 0.2)[0].label == "no baseline"


def test_bench_detects_planted_regression(agent_dir, cli):
    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    spec_file = agent_dir / "agentos.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data["bench"] = {"quick": {"seeds": [1], "steps": 10000, "eval_episodes": 5}}
    data["loop"].update(eval_every=0, checkpoint_every=0)
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))

    code, out, err = cli("bench", "quick", "--save-baseline", "--agent", agent_dir)
    assert code == 0, err
    assert (agent_dir / ".agentos" / "bench" / "quick.json").is_file()

    code, out, err = cli("bench", "quick", "--agent", agent_dir)
    assert code == 0, out + err
    assert "pass" in out

    code, out, err = cli("bench", "quick", "-p", "learner.learning_rate=0", "--agent", agent_dir)
    assert code == 1, out + err
    assert "regressed" in out
    # baseline vs now, per environment, beside the verdict table
    data = json.loads((agent_dir / ".agentos" / "bench" / "quick.png.json").read_text())
    [(env, curves)] = data["panels"].items()
    assert [c["label"] for c in curves] == ["baseline", "now"]
    assert curves[0]["steps"] == curves[1]["steps"] == [10000]
    assert curves[1]["mean"][0] < curves[0]["mean"][0]  # the planted regression, drawn


def test_a_suite_that_is_not_a_mapping_names_a_fix():
    import pytest

    from agentos.bench.suites import get_suite
    from agentos.errors import AgentOSError

    with pytest.raises(AgentOSError, match="a suite must be a mapping, got list") as e:
        get_suite("quick", {"quick": [1]}, "agentos.yaml")
    assert e.value.where == "agentos.yaml: bench.quick" and "steps: 20000" in (e.value.fix or "")


def test_a_damaged_baseline_is_named_before_any_training(agent_dir, cli):
    from tests.cli.bad_input_checks import assert_clean_exit_2

    assert cli("install", "dqn", "cartpole", "--agent", agent_dir)[0] == 0
    spec_file = agent_dir / "agentos.yaml"
    data = yaml.safe_load(spec_file.read_text())
    data["bench"] = {"tiny": {"seeds": [0], "steps": 300, "eval_episodes": 1}}
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))
    stored = agent_dir / ".agentos" / "bench" / "tiny.json"
    stored.parent.mkdir(parents=True)
    damaged = (
        "garbage",
        "[]",
        "{}",
        "null",
        '{"entries": 5}',
        '{"entries": [{"env": "agent", "returns": {}}]}',
        '{"entries": [{"env": "agent", "returns": {"0": "abc"}}]}',
    )
    for text in damaged:
        stored.write_text(text)
        code, out, err = cli("bench", "tiny", "--agent", agent_dir)
        assert_clean_exit_2(code, out, err, ("tiny.json", "damaged", "--save-baseline"))
        assert "seed 0:" not in out, text  # refused before the suite trained
    code, out, err = cli("bench", "tiny", "--save-baseline", "--agent", agent_dir)
    assert code == 0, err
    assert json.loads(stored.read_text())["entries"][0]["env"] == "agent"
    code, out, err = cli("bench", "tiny", "-p", "loop.eval_episodes=3", "--agent", agent_dir)
    assert_clean_exit_2(code, out, err, ("eval_episodes", "tiny"))
