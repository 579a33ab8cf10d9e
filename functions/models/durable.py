"""How a Durable function is named and typed: :class:`Activity`, :class:`Orchestration` and their :class:`Codec`.

A contract names a Durable function once and says what it takes and returns — a codec to and from the JSON stored
in orchestration history. The app's contracts are in :mod:`functions.provisioning.contracts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

__all__ = [
    "HOST_NAME",
    "HOST_NAMES",
    "NOTHING",
    "Activity",
    "Codec",
    "Orchestration",
    "json_codec",
    "model_codec",
    "optional",
]

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")


class _Json(Protocol):
    def to_json(self) -> Any: ...


J = TypeVar("J", bound=_Json)
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Codec(Generic[T]):
    """How a value travels through orchestration history: ``dump`` to JSON, ``load`` back."""

    dump: Callable[[T], Any]
    load: Callable[[Any], T]


def json_codec(load: Callable[[Any], J]) -> Codec[J]:
    """A codec for a type with ``to_json``, loaded by ``load`` (its ``from_json``)."""
    return Codec(lambda value: value.to_json(), load)


def model_codec(kind: type[M]) -> Codec[M]:
    """A codec for a pydantic model (``model_dump(mode="json")`` / ``model_validate``)."""
    return Codec(lambda value: value.model_dump(mode="json"), kind.model_validate)


def optional(codec: Codec[T]) -> Codec[T | None]:
    """``codec``, with ``None`` passed through as JSON ``null``."""
    return Codec(lambda v: None if v is None else codec.dump(v), lambda v: None if v is None else codec.load(v))


NOTHING: Codec[None] = Codec(lambda _: {}, lambda _: None)
HOST_NAME: Codec[str] = Codec(str, str)
HOST_NAMES: Codec[tuple[str, ...]] = Codec(list, lambda value: tuple(str(v) for v in value))


@dataclass(frozen=True)
class Activity(Generic[P, R]):
    """An activity function: its name, and how its payload and result cross orchestration history."""

    name: str
    payload: Codec[P]
    result: Codec[R]


@dataclass(frozen=True)
class Orchestration(Generic[P]):
    """An orchestrator function: its name and how its input crosses orchestration history."""

    name: str
    input: Codec[P]
