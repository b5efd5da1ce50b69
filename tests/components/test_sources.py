"""Component sources: content hashes, finding files, loading classes, integrity checks."""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import pytest

from agentos.components.sources import (
    component_files,
    content_hash,
    load_component_class,
)
from agentos.components.spec import ComponentSpec
from agentos.errors import IntegrityError, SpecError


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An importable package with a unique name; returns (name, folder)."""
    name = f"tinypkg_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "site" / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    (folder / "comp.py").write_text("class Comp:\n    role = 'actor'\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield name, folder
    for mod in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[mod]


def cspec(name: str = "actor", **kw) -> ComponentSpec:
    """A ComponentSpec with defaults for the fields a test does not care about."""
    kw.setdefault("source", "local")
    kw.setdefault("module", "comp.py")
    kw.setdefault("class_name", "Comp")
    return ComponentSpec(name=name, **kw)


def test_content_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 2\n")
    h = content_hash([a, b])
    assert h.startswith("sha256:") and len(h) == 7 + 64
    assert content_hash([b, a]) == h  # order of the list does not matter
    b.write_text("y = 3\n")
    assert content_hash([a, b]) != h
    c = tmp_path / "c.py"
    c.write_text("x = 1\n")
    assert content_hash([c]) != content_hash([a])  # the name counts
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.py").write_text("x = 1\n")
    assert content_hash([other / "a.py"]) == content_hash([a])  # names are relative


def test_builtin_files_are_found_without_importing(pkg, tmp_path: Path) -> None:
    name, folder = pkg
    (folder / "boom.py").write_text("raise RuntimeError('imported!')\n")
    files = component_files(cspec(source="builtin", module=f"{name}.boom"), tmp_path)
    assert files == [folder / "boom.py"]
    assert f"{name}.boom" not in sys.modules


def test_builtin_class_loads_and_is_hash_checked(pkg, tmp_path: Path) -> None:
    name, folder = pkg
    spec = cspec(source="builtin", module=f"{name}.comp", registry_name="comp", version="1.0")
    digest = content_hash(component_files(spec, tmp_path))
    spec = cspec(
        source="builtin", module=f"{name}.comp", registry_name="comp", version="1.0", hash=digest
    )
    cls = load_component_class(spec, tmp_path)
    assert cls.__name__ == "Comp" and cls.role == "actor"
    (folder / "comp.py").write_text("class Comp:\n    role = 'learner'\n")
    with pytest.raises(IntegrityError) as info:
        load_component_class(spec, tmp_path)
    msg = str(info.value)
    assert "components.actor" in msg and "'comp' 1.0" in msg and str(folder / "comp.py") in msg
    assert "agentos install comp" in msg and "local component" in msg


def test_missing_builtin_module_or_class(pkg, tmp_path: Path) -> None:
    name, _ = pkg
    with pytest.raises(SpecError, match="module 'nope_pkg_x.comp'.*No module named") as info:
        load_component_class(cspec(source="builtin", module="nope_pkg_x.comp"), tmp_path)
    assert "components.actor.module" in str(info.value)
    with pytest.raises(SpecError, match="class 'Compp' not found") as info:
        load_component_class(
            cspec(source="builtin", module=f"{name}.comp", class_name="Compp"), tmp_path
        )
    assert "components.actor.class" in str(info.value) and "did you mean 'Comp'" in str(info.value)


def test_local_component_is_reloaded_after_edits(tmp_path: Path) -> None:
    (tmp_path / "helper_mod_for_local.py").write_text("FACTOR = 10\n")
    comp = tmp_path / "comp.py"
    comp.write_text(
        "from helper_mod_for_local import FACTOR\n\nclass Comp:\n    VALUE = 1 * FACTOR\n"
    )
    spec = cspec(hash="sha256:ignored-for-local-components")
    assert load_component_class(spec, tmp_path).VALUE == 10  # sibling import works
    comp.write_text(
        "from helper_mod_for_local import FACTOR\n\nclass Comp:\n    VALUE = 2 * FACTOR\n"
    )
    assert load_component_class(spec, tmp_path).VALUE == 20  # same size, same second: no .pyc


def test_local_component_supports_dataclasses(tmp_path: Path) -> None:
    (tmp_path / "comp.py").write_text(
        "from __future__ import annotations\nfrom dataclasses import dataclass\n\n"
        "class Comp:\n    @dataclass(frozen=True)\n    class Params:\n        n: int = 3\n"
    )
    assert load_component_class(cspec(), tmp_path).Params().n == 3


def test_missing_local_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found") as info:
        load_component_class(cspec(module="nope.py"), tmp_path)
    assert "components.actor.module" in str(info.value)
    with pytest.raises(SpecError, match="must be a .py file"):
        load_component_class(cspec(module="mypkg.actor"), tmp_path)


def test_user_syntax_error_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "comp.py").write_text("class Comp:\n    x = = 1\n")
    with pytest.raises(SpecError) as info:
        load_component_class(cspec(), tmp_path)
    msg = str(info.value)
    assert f"{tmp_path / 'comp.py'}:2" in msg and "SyntaxError" in msg
    assert "Traceback" not in msg


def test_user_import_error_shows_last_line(tmp_path: Path) -> None:
    (tmp_path / "comp.py").write_text("x = 1\nraise ValueError('bad value in my component')\n")
    with pytest.raises(SpecError) as info:
        load_component_class(cspec(), tmp_path)
    msg = str(info.value)
    assert "ValueError: bad value in my component" in msg and "comp.py:2" in msg


def test_debug_logging_shows_the_real_exception(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "comp.py").write_text("raise ValueError('boom')\n")
    caplog.set_level(logging.DEBUG, logger="agentos.components.sources")
    with pytest.raises(ValueError, match="boom"):
        load_component_class(cspec(), tmp_path)


def test_a_function_named_as_the_class_is_not_reported_missing(tmp_path: Path) -> None:
    # was "class 'Comp' not found ... classes defined there: none"
    (tmp_path / "comp.py").write_text("def Comp():\n    pass\n")
    with pytest.raises(SpecError, match="'Comp' in .*comp.py is a function, not a class") as e:
        load_component_class(cspec(), tmp_path)
    assert "components.actor.class" in str(e.value) and "gymnasium.Env" in str(e.value)
