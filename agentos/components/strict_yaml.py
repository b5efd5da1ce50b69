"""Reading agentos.yaml strictly: UTF-8 only, and no key given twice in one mapping.

PyYAML silently keeps the last of two equal keys (two ``learner:`` entries: the first one
is lost without a word), and a stray non-UTF-8 byte raises ``UnicodeDecodeError``. Both
become a ``SpecError`` naming the file, the line(s) and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentos.errors import SpecError


def decode_utf8(data: bytes, path: Path) -> str:
    """``data`` as text; a non-UTF-8 byte is refused with its line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SpecError(
            f"not UTF-8 text: byte 0x{data[e.start]:02x} cannot be decoded",
            where=f"{path}:{line}:{column}",
            fix="save the file as UTF-8 (retype or delete the character at that position)",
        ) from None


def _strict_loader() -> type:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """A SafeLoader that refuses a key given twice in one mapping."""

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict:
        # the keys written in this mapping: a key that a merge (`<<: *base`) brings in is
        # overridden by one written here, as YAML means it to be, not given twice
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # SafeLoader reports unhashable keys itself
            if key in seen:
                first = seen[key].start_mark.line + 1
                second = key_node.start_mark.line + 1
                raise _DuplicateKey(str(key), first, second)
            seen[key] = key_node
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: int, second: int):
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


_LOADER: type | None = None


def load_yaml(text: str, path: Path) -> Any:
    """Parse ``text`` (the file ``path``) like ``yaml.safe_load``, refusing duplicate keys.

    Malformed YAML still raises ``yaml.YAMLError`` for the caller to report.
    """
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _strict_loader()
    try:
        return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as e:
        raise SpecError(
            f"key '{e.key}' is given twice, on lines {e.first} and {e.second} "
            "(YAML would silently keep only the second)",
            where=f"{path}:{e.second}",
            fix=f"keep one '{e.key}' entry: delete or rename the one on line {e.first} "
            f"or line {e.second}",
        ) from None
