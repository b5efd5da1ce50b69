"""`agentos init` into a folder it cannot make: one message naming the folder, exit 2."""

from __future__ import annotations

from pathlib import Path

from bad_input_checks import assert_clean_exit_2


def test_folder_that_cannot_be_created(cli) -> None:
    code, out, err = cli("init", "/proc/agentos-x")
    fragments = ("/proc/agentos-x", "cannot create the agent folder", "folder you can write")
    assert_clean_exit_2(code, out, err, fragments)
    assert "MLFLOW_TRACKING_URI" not in err


def test_folder_that_is_a_file(tmp_path: Path, cli) -> None:
    (tmp_path / "taken").write_text("")
    assert_clean_exit_2(*cli("init", tmp_path / "taken"), ("taken", "is a file, not a folder"))


def test_a_name_too_long_or_blank_is_refused(tmp_path: Path, cli) -> None:
    for name in ("n" * 600, "  "):
        code, out, err = cli("init", tmp_path / "a", "--name", name)
        assert_clean_exit_2(code, out, err, ("--name", "not blank"))
        assert not (tmp_path / "a" / "agentos.yaml").exists()
    assert cli("init", tmp_path / "b")[0] == 0
    spec = tmp_path / "b" / "agentos.yaml"
    spec.write_text(spec.read_text().replace("name: b", "name: " + "n" * 600))
    assert_clean_exit_2(*cli("run", "--agent", tmp_path / "b"), ("agentos.yaml: name", "1-200"))
