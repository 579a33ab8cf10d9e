"""A page of a listing: its items and the opaque token for the next page (``None`` at the end)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Page"]

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items and the continuation token for the next one."""

    items: list[T]
    continuation: str | None = None
