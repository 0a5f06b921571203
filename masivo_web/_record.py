"""``Record``: the base of the SDK's small value classes.

They were dataclasses; creating a dataclass generates code and compiles it, ~2 ms per class in
Pyodide, which was a third of ``import masivo_web`` there. A record is a plain class with
``__slots__`` and a hand-written ``__init__``; equality, hash, ``repr`` and :meth:`replace` come
from the slots. Records are values: nothing in the SDK changes one after it is made.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class Record:
    """Equality, hash and ``repr`` over ``__slots__``; ``_hidden`` fields stay out of ``repr``."""

    __slots__: tuple[str, ...] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name not in self._hidden
        )
        return f"{type(self).__name__}({shown})"

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return type(self)(**values)
