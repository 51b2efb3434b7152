"""A small name -> implementation registry used for constructors and quantizers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from ._errors import InputError

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Map public names to implementations.

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages ("constructor", ...).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None, *, replace: bool = False):
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is None."""

        def _add(obj: T) -> T:
            if not replace and name in self._items:
                raise InputError(f"{self.kind} {name!r} is already registered; pass replace=True")
            self._items[name] = obj
            return obj

        if item is None:
            return _add
        return _add(item)

    def get(self, name: str) -> T:
        """Return the implementation registered under ``name``.

        Raises
        ------
        InputError
            If no implementation has that name; the message lists the valid names.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise InputError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, implementation) pairs."""
        return list(self._items.items())


