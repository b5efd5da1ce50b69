"""A battery of bad inputs and faults, made the way a user makes them: every one exits 2,
prints no traceback, names the file, key or option, and says how to fix it (a "Fix:" line).

Each case is (id, setup, fragments): ``setup(agent)`` prepares the agent folder (a fresh
`agentos init` agent) and returns the command line; ``fragments`` must all appear in the
message. Faulty checkpoints are in test_bad_checkpoints.py (73 cases here, 10 there).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_checks import (
    ACTOR_SOURCE,
    DQN,
    Case,
    add_local,
    args,
    assert_clean_exit_2,
    edit,
    no_checkpoints,
    plain,
    plain_registry_folder,
    registry_with,
    replace_actor,
    symlink_actor,
    write,
)

CASES = [
    # --- command-line usage (typer's own exceptions) ---------------------------------------
    Case("unknown-command", plain("lern"), ("No such command 'lern'", "learn", "--help")),
    Case("another-tools-command", plain("train"), ("No such command 'train'", "agentos learn")),
    Case("from-without-resume", args("learn", "--from", "abc"), ("--resume", "--from abc")),
    Case("overlay-without-video", args("run", "--overlay"), ("--overlay", "add --video")),
    Case("plot-out-unknown-type", args("plot", "-o", "out.xyz"), ("'.xyz'", ".png")),
    Case(
        "plot-out-is-a-folder",
        lambda agent: ["plot", "-o", str(agent), "--agent", str(agent)],
        ("is a folder", "plot.png"),
    ),
    Case("graph-of-unknown-type", args("show", "--graph", "g.txt"), ("'.txt'", ".svg")),
    Case(
        "trace-is-a-folder",
        lambda agent: ["run", "--episodes", "1", "--trace", str(agent), "--agent", str(agent)],
        ("is a folder", "trace.csv"),
    ),
    Case(
        "learning-rate-nan",
        args("learn", "--steps", "10", "-p", "learner.learning_rate=nan"),
        ("learning_rate", "not a finite number"),
        DQN,
        no_checkpoints,
    ),
    Case(
        "param-unclosed-yaml",
        args("show", "-p", "environment.wrappers=[{wrapper: TimeLimit"),
        ("not valid YAML", "close every bracket"),
        DQN,
    ),
    Case(
        "param-copied-by-a-reference",
        args("show", "-p", "learner.gamma=1.5"),
        ("gamma must be in [0, 1]", "follows ${learner.gamma}", "-p learner.gamma=VALUE"),
        DQN,
    ),
    Case(
        "install-unknown-atari-game",
        args("install", "dqn", "atari", "-p", "environment.game=Pongg"),
        ("unknown Atari game 'Pongg'", "did you mean Pong"),
    ),
    Case(
        "install-value-out-of-range",
        args("install", "dqn", "cartpole", "-p", "replay.capacity=0"),
        ("capacity must be >= 1", "replay.capacity"),
    ),
    Case(
        "learning-diverges",
        args(
            "learn",
            "--steps",
            "3000",
            "-p",
            "learner.learning_rate=1e30",
            "-p",
            "loop.min_replay_size=200",
            "-p",
            "loop.eval_every=0",
        ),  # fmt: skip
        ("learning diverged", "loss = nan", "learning_rate"),
        DQN,
        no_checkpoints,
    ),
    Case(
        "learning-rate-inf",
        args("learn", "--steps", "10", "-p", "learner.learning_rate=.inf"),
        ("learning_rate", "not a finite number"),
        DQN,
        no_checkpoints,
    ),
    Case("misspelt-option", plain("learn", "--step", "5"), ("No such option: --step", "--steps")),
    Case("steps-not-a-number", plain("learn", "--steps", "abc"), ("'--steps'", "integer")),
    Case("episodes-not-a-number", plain("run", "-e", "many"), ("'--episodes'",)),
    Case("runs-show-without-id", plain("runs", "show"), ("Missing argument", "run_id")),
    Case("install-without-names", plain("install"), ("Missing argument", "names")),
    Case("uninstall-without-name", plain("uninstall"), ("Missing argument", "name")),
    Case("rerun-without-id", plain("rerun"), ("Missing argument", "run_id")),
    Case("param-without-value", plain("learn", "-p"), ("'-p' requires an argument",)),
    Case("unknown-bench-option", plain("bench", "--nope"), ("No such option: --nope",)),
    Case("port-not-a-number", plain("ui", "--port", "http"), ("'--port'",)),
    Case("unknown-runs-subcommand", plain("runs", "shwo", "x"), ("No such command",)),
    # --- values out of range -----------------------------------------------------------------
    Case("episodes-zero", args("run", "--episodes", "0"), ("'--episodes'", "or equal to 1")),
    Case("episodes-negative", args("run", "--episodes", "-1"), ("'--episodes'",)),
    Case("steps-zero", args("learn", "--steps", "0"), ("'--steps'",), DQN, no_checkpoints),
    Case("steps-negative", args("learn", "--steps", "-5"), ("'--steps'",), DQN, no_checkpoints),
    Case("learn-seed-negative", args("learn", "--seed", "-1"), ("'--seed'",), DQN, no_checkpoints),
    Case("run-seed-negative", args("run", "--seed", "-1"), ("'--seed'",)),
    Case("port-too-large", plain("ui", "--port", "70000"), ("'--port'", "65535")),
    Case("port-negative", plain("ui", "--port", "-1"), ("'--port'",)),
    Case("port-zero", plain("ui", "--port", "0"), ("'--port'",)),
    Case("runs-limit-zero", args("runs", "--limit", "0"), ("'--limit'",)),
    Case("runs-limit-negative", args("runs", "-n", "-3"), ("'--limit'",)),
    Case("actors-negative", args("learn", "--actors", "-1"), ("'--actors'",)),
    Case("replay-shards-zero", args("learn", "--replay-shards", "0"), ("'--replay-shards'",)),
    Case(
        "eval-episodes-zero",
        args("run", "-p", "loop.eval_episodes=0"),
        ("agentos.yaml: loop.eval_episodes", "-p loop.eval_episodes="),
    ),
    Case("log-every-zero", args("run", "-p", "loop.log_every=0"), ("loop.log_every",)),
    Case("learn-every-zero", args("run", "-p", "loop.learn_every=0"), ("loop.learn_every",)),
    Case("sync-every-zero", args("run", "-p", "loop.sync_every=0"), ("loop.sync_every",)),
    Case("eval-every-negative", args("run", "-p", "loop.eval_every=-1"), ("loop.eval_every",)),
    Case(
        "samples-per-insert-negative",
        args("run", "-p", "loop.samples_per_insert=-1"),
        ("loop.samples_per_insert",),
    ),
    Case(
        "min-replay-negative",
        args("run", "-p", "loop.min_replay_size=-5"),
        ("loop.min_replay_size",),
    ),
    Case(
        "replay-capacity-zero",
        args("run", "-p", "replay.capacity=0"),
        ("components.replay.params", "capacity", "-p replay.capacity="),
        DQN,
    ),
    Case(
        "batch-size-zero",
        args("learn", "--steps", "10", "-p", "learner.batch_size=0"),
        ("components.learner.params", "batch_size", "-p learner.batch_size="),
        DQN,
        no_checkpoints,
    ),
    Case(
        "unknown-parameter",
        args("run", "-p", "actor.temperatur=1"),
        ("-p actor.temperatur", "unknown parameter"),
    ),
    Case("override-without-equals", args("run", "-p", "actor"), ("-p/--param", "key=value")),
    Case("override-unknown-component", args("run", "-p", "nosuch.key=1"), ("'nosuch'",)),
    Case(
        "wrong-parameter-type",
        args("run", "-p", "loop.eval_episodes=many"),
        ("loop.eval_episodes", "expected int"),
    ),
    # --- the spec file -----------------------------------------------------------------------
    Case(
        "non-utf8-spec",
        write(b"name: caf\xe9\ncomponents: {}\n", "run"),
        ("agentos.yaml:1:", "not UTF-8", "0xe9"),
    ),
    Case(
        "duplicate-top-level-key",
        write("name: a\ncomponents: {}\ncomponents: {}\n", "run"),
        ("agentos.yaml:3", "'components' is given twice", "lines 2 and 3"),
    ),
    Case(
        "duplicate-component",
        write(
            "components:\n  learner: {module: a.py, class: A}\n"
            "  learner: {module: b.py, class: B}\n",
            "show",
        ),
        ("agentos.yaml:3", "'learner' is given twice", "lines 2 and 3"),
    ),
    Case(
        "duplicate-parameter",
        write("components: {}\nloop:\n  eval_episodes: 3\n  eval_episodes: 4\n", "run"),
        ("'eval_episodes' is given twice", "lines 3 and 4"),
    ),
    Case("malformed-yaml", write("components: [\n", "run"), ("agentos.yaml:", "malformed YAML")),
    Case("spec-is-a-list", write("- a\n- b\n", "run"), ("agentos.yaml", "must be a mapping")),
    Case("unknown-top-key", write("componnets: {}\n", "run"), ("agentos.yaml", "componnets")),
    Case(
        "no-spec",
        lambda agent: ["run", "--agent", str(agent.parent / "empty")],
        ("no agent spec found", "agentos init"),
    ),
    Case(
        "unknown-source",
        edit(lambda d: d["components"]["actor"].update(source="ftp"), "show"),
        ("components.actor.source", "unknown source 'ftp'"),
    ),
    Case(
        "component-without-class",
        edit(lambda d: d["components"]["actor"].pop("class"), "show"),
        ("components.actor.class", "missing 'class'"),
    ),
    Case(
        "local-module-parent-folder",
        edit(lambda d: replace_actor(d, "../outside/evil.py"), "show"),
        ("components.actor.module", "outside the agent folder", "allow_outside_agent"),
    ),
    Case(
        "local-module-absolute-path",
        edit(lambda d: replace_actor(d, "/tmp/agentos-evil.py"), "show"),
        ("components.actor.module", "outside the agent folder"),
    ),
    Case(
        "local-module-symlink-out",
        symlink_actor,
        ("components.actor.module", "'linked.py' is outside the agent folder"),
    ),
    Case(
        "allow-outside-not-a-bool",
        edit(lambda d: d["components"]["actor"].update(allow_outside_agent="yes"), "show"),
        ("components.actor.allow_outside_agent", "true or false"),
    ),
    Case(
        "local-module-not-py",
        edit(lambda d: replace_actor(d, "random_policy.txt"), "show"),
        ("components.actor.module", "must be a .py file"),
    ),
    Case(
        "local-module-missing",
        edit(lambda d: replace_actor(d, "nope.py"), "show"),
        ("components.actor.module", "nope.py not found"),
    ),
    Case(
        "local-class-missing",
        edit(lambda d: replace_actor(d, "random_policy.py", "RandomActr"), "show"),
        ("components.actor.class", "did you mean 'RandomActor'"),
    ),
    Case(
        "local-init-raises",
        add_local(
            "actor", ACTOR_SOURCE, {"module": "actor.py", "class": "Broken"}, "run", "-e", "1"
        ),
        ("components.actor", "Broken(...) in actor.py", "ValueError", "not calibrated"),
    ),
    Case(
        "local-module-syntax-error",
        add_local("bad", "def (:\n", {"module": "bad.py", "class": "X"}, "show"),
        ("bad.py:1", "SyntaxError"),
    ),
    Case(
        "hash-mismatch",
        edit(lambda d: d["components"]["learner"].update(hash="sha256:" + "0" * 64), "run"),
        ("components.learner", "changed since it was installed", "agentos install"),
        DQN,
    ),
    Case(
        "hash-deleted",
        edit(lambda d: d["components"]["learner"].pop("hash"), "run"),
        ("components.learner.hash", "no recorded hash", "agentos install dqn_learner"),
        DQN,
    ),
    Case(
        "learn-without-learner",
        args("learn", "--steps", "10"),
        ("agentos.yaml: components", "no learner"),
        (),
        no_checkpoints,
    ),
    # --- install -----------------------------------------------------------------------------
    Case("install-unknown-name", args("install", "cartpol"), ("cartpol", "agentos list")),
    Case(
        "install-unknown-gym-id",
        args("install", "gym:NoSuchEnv-v0"),
        ("gym:NoSuchEnv-v0", "unknown gymnasium environment id 'NoSuchEnv-v0'"),
    ),
    Case(
        "install-misspelt-gym-id",
        args("install", "gym:Acrobt-v1"),
        ("unknown gymnasium environment id", "did you mean Acrobot-v1"),
    ),
    Case("install-empty-gym-id", args("install", "gym:"), ("'gym:' names no environment id",)),
    Case(
        "install-requirement-is-an-option",
        registry_with(["--no-index", "pyyaml"]),
        ("needy-registry.yaml", "requirements", "'--no-index'", "PEP 508"),
    ),
    Case(
        "install-requirement-is-a-path",
        registry_with(["/path/pkg"]),
        ("requirements", "'/path/pkg'", "PEP 508"),
    ),
    Case(
        "install-requirement-needs-consent",
        registry_with(["agentos-no-such-package==1.0"]),
        ("agentos install", "--yes", "agentos-no-such-package==1.0"),
    ),
    Case(
        "install-missing-registry",
        args("install", "x", "--registry", "/nonexistent-agentos-registry"),
        ("/nonexistent-agentos-registry", "not found"),
    ),
    Case("list-registry-not-git", plain_registry_folder, ("not a git repository",)),
    Case("uninstall-not-installed", args("uninstall", "foo"), ("'foo' is not installed",)),
    Case(
        "resume-without-checkpoint",
        args("learn", "--resume", "--steps", "10"),
        ("--resume found no checkpoint", "without --resume"),
        DQN,
    ),
    Case(
        "best-without-checkpoint",
        args("run", "--checkpoint", "best"),
        ("no best checkpoint", "agentos learn"),
        DQN,
    ),
    Case(
        "checkpoint-of-unknown-run",
        args("run", "--checkpoint", "nosuchrun"),
        ("nosuchrun", "agentos runs"),
        DQN,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, agent_dir: Path, cli) -> None:
    (agent_dir.parent / "empty").mkdir(exist_ok=True)
    if case.install:
        code, _, err = cli(*case.install, "--agent", agent_dir)
        assert code == 0, err
    before = (agent_dir / "agentos.yaml").read_bytes()
    command = case.setup(agent_dir)
    edited = (agent_dir / "agentos.yaml").read_bytes()
    assert_clean_exit_2(*cli(*command), case.fragments)
    if command[0] in ("install", "uninstall"):
        assert (agent_dir / "agentos.yaml").read_bytes() == edited, "the spec was changed"
    if case.after is not None:
        case.after(agent_dir)
    assert before is not None
