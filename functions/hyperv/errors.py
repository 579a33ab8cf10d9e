"""The Hyper-V layer's exceptions: one hierarchy, raised by the transport, the runner and the Hyper-V facade.

Lower-level errors (pywinrm, requests, pyspnego) are translated once, in :mod:`functions.hyperv.transport`, with
``raise … from exc``; script failures are translated once, in :mod:`functions.hyperv.runner`, through
:data:`ERROR_CATEGORIES`. Nothing above this layer sees a pywinrm or requests exception.

Tree (``transient`` errors are worth retrying as they are; the others need a change first)::

    HyperVError                 base: ``host``, ``category``, ``transient``
    ├── HostUnreachable         transient: refused, DNS, TLS handshake or connect timeout, connection dropped
    ├── AuthenticationFailed    the host rejected the credentials (HTTP 401) or the auth exchange failed
    ├── OperationTimeout        transient: the host did not answer within the read timeout
    ├── VmNotFound              the named VM does not exist on the host
    ├── DiskNotFound            the VM has no disk drive with that id
    ├── NicNotFound             the VM has no network adapter with that id
    ├── CheckpointNotFound      the VM has no checkpoint with that id
    ├── VmAlreadyExists         a VM with that name already exists
    ├── InvalidVmState          the VM is in a state that does not allow the operation
    ├── ImageNotFound           the golden image to clone does not exist
    ├── SwitchNotFound          the virtual switch does not exist
    ├── InsufficientResources   not enough memory, disk or other capacity on the host
    ├── ClusterError            the failover cluster refused or failed the operation
    ├── InvalidParameters       the script rejected its parameters
    ├── OperationNotFound       no such background operation (or no Aether-V folder where it should be)
    ├── HostOperationFailed     transient: a background operation on the host failed (a new attempt may succeed)
    ├── ScriptFailed            a script failed without a known category (also unknown categories)
    └── ProtocolError           unexpected output, a WS-Management fault or a malformed reply

Messages never contain credentials, and never quote operation parameters (they may hold secrets).
"""

# The class names are the categories scripts report (e.g. "VmNotFound"), so they carry no "Error" suffix.
# ruff: noqa: N818

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ERROR_CATEGORIES",
    "AuthenticationFailed",
    "CheckpointNotFound",
    "ClusterError",
    "DiskNotFound",
    "HostOperationFailed",
    "HostUnreachable",
    "HyperVError",
    "ImageNotFound",
    "InsufficientResources",
    "InvalidParameters",
    "InvalidVmState",
    "NicNotFound",
    "OperationNotFound",
    "OperationTimeout",
    "ProtocolError",
    "ScriptFailed",
    "SwitchNotFound",
    "VmAlreadyExists",
    "VmNotFound",
    "error_for_category",
]


class HyperVError(Exception):
    """Base of every error of the Hyper-V layer.

    ``host`` names the Hyper-V host (``None`` when not tied to one), ``category`` is the class name (the same
    string a script passes to ``Fail-AetherV``), ``transient`` tells whether retrying unchanged may succeed.
    """

    transient: bool = False

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host

    @property
    def category(self) -> str:
        """The error's category: its class name, as scripts and the problem responses spell it."""
        return type(self).__name__

    def __str__(self) -> str:
        return f"{self.host}: {self.message}" if self.host else self.message


class HostUnreachable(HyperVError):
    """The host could not be reached: connection refused or reset, DNS failure, TLS failure, connect timeout."""

    transient = True


class AuthenticationFailed(HyperVError):
    """The host rejected the credentials (HTTP 401) or the authentication exchange failed."""


class OperationTimeout(HyperVError):
    """The host accepted the connection but did not answer within the read timeout."""

    transient = True


class VmNotFound(HyperVError):
    """The VM named in the operation does not exist on the host."""


class DiskNotFound(HyperVError):
    """The VM has no virtual hard disk drive with the id named in the operation."""


class NicNotFound(HyperVError):
    """The VM has no network adapter with the id named in the operation."""


class CheckpointNotFound(HyperVError):
    """The VM has no checkpoint with the id named in the operation."""


class VmAlreadyExists(HyperVError):
    """A VM with the requested name already exists on the host."""


class InvalidVmState(HyperVError):
    """The VM's state does not allow the operation (e.g. deleting a running VM)."""


class ImageNotFound(HyperVError):
    """The golden image the operation should clone does not exist on the host."""


class SwitchNotFound(HyperVError):
    """The virtual switch named in the operation does not exist on the host."""


class InsufficientResources(HyperVError):
    """The host lacks the memory, disk space or other capacity the operation needs."""


class ClusterError(HyperVError):
    """The failover cluster refused or failed the operation."""


class InvalidParameters(HyperVError):
    """The operation script rejected its parameters."""


class OperationNotFound(HyperVError):
    """The background operation asked about does not exist in the folder named (or the folder is not Aether-V's)."""


class HostOperationFailed(HyperVError):
    """A background operation on the host failed part-way (an I/O error, its worker ended without a result).

    Reported in the operation's status, not raised by its start: the work ran after the call that started it.
    """

    transient = True


class ScriptFailed(HyperVError):
    """An operation script failed without one of the known categories (or with an unknown one)."""


class ProtocolError(HyperVError):
    """The host answered something unexpected: a WS-Management fault, a malformed reply or unparsable output.

    ``fault_code`` holds the WS-Management fault code (e.g. ``w:TimedOut`` or the numeric WSManFault code) when
    the error came from a SOAP fault.
    """

    def __init__(self, message: str, *, host: str | None = None, fault_code: str | None = None) -> None:
        super().__init__(message, host=host)
        self.fault_code = fault_code


ERROR_CATEGORIES: Mapping[str, type[HyperVError]] = {
    cls.__name__: cls
    for cls in (
        HostUnreachable,
        AuthenticationFailed,
        OperationTimeout,
        VmNotFound,
        DiskNotFound,
        NicNotFound,
        CheckpointNotFound,
        VmAlreadyExists,
        InvalidVmState,
        ImageNotFound,
        SwitchNotFound,
        InsufficientResources,
        ClusterError,
        InvalidParameters,
        OperationNotFound,
        HostOperationFailed,
        ScriptFailed,
        ProtocolError,
    )
}
"""The one table from a script's error ``category`` to the exception class; unknown categories → ScriptFailed."""


def error_for_category(category: str) -> type[HyperVError]:
    """The exception class for a script error category (``ScriptFailed`` when the category is unknown)."""
    return ERROR_CATEGORIES.get(category, ScriptFailed)
