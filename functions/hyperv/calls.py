"""What the operation mixins of :class:`~functions.hyperv.client.HyperVClient` call: its plumbing, and GUID checks.

:class:`ClientCalls` declares the client's private helpers (``_run``, ``_parse``, ``_call``, ``_list``) so that a mixin
holding a group of operations (:mod:`functions.hyperv.device_ops`, :mod:`functions.hyperv.checkpoint_ops`)
type-checks on its own; :func:`guid` normalises an id the way every operation takes it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from functions.hyperv.errors import InvalidParameters
from functions.hyperv.models import normalise_vm_id

__all__ = ["ClientCalls", "guid"]

M = TypeVar("M", bound=BaseModel)


def guid(field: str, value: str) -> str:
    """``value`` as a lower-case GUID (``InvalidParameters`` naming ``field`` when it is not one)."""
    try:
        return normalise_vm_id(value)
    except ValueError:
        raise InvalidParameters(f"{field} {value!r} is not a GUID") from None


class ClientCalls(ABC):
    """The client's plumbing, implemented by ``HyperVClient``."""

    host: str | None

    @abstractmethod
    def _run(self, operation: str, params: Mapping[str, Any] | None = None) -> Any:
        """Run an operation script and return its parsed JSON result."""

    @abstractmethod
    def _parse(self, operation: str, model: type[M], value: Any) -> M:
        """Validate ``value`` into ``model`` (``ProtocolError`` when it does not fit)."""

    @abstractmethod
    def _call(self, operation: str, model: type[M], params: Mapping[str, Any] | None = None) -> M:
        """Run an operation script and validate its result into ``model``."""

    @abstractmethod
    def _list(self, operation: str, key: str, model: type[M], params: Mapping[str, Any] | None = None) -> list[M]:
        """Run an operation script and validate each item of its ``key`` list into ``model``."""
