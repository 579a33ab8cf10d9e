"""Domain errors of the simulated Hyper-V model, one per error category the operation scripts report.

The model (:mod:`tools.hvsim.models`) raises these; the operation handlers (:mod:`tools.hvsim.operations`) turn
them into the protocol's ``ScriptError`` at the boundary, exactly as a script's ``Fail-AetherV '<category>'``
does on a real host. ``category`` is the name of the client's exception class in ``functions.hyperv.errors``.
"""

from __future__ import annotations

__all__ = [
    "CheckpointNotFound",
    "ClusterError",
    "DiskNotFound",
    "FileInUse",
    "HostUnreachable",
    "HyperVSimError",
    "ImageNotFound",
    "InsufficientResources",
    "InvalidParameters",
    "InvalidVmState",
    "NicNotFound",
    "OperationNotFound",
    "OperationTimeout",
    "SwitchNotFound",
    "VmAlreadyExists",
    "VmNotFound",
]


class HyperVSimError(Exception):
    """A failure the real script reports with ``Fail-AetherV``: ``category`` plus a message."""

    category = "ScriptFailed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class VmNotFound(HyperVSimError):  # noqa: N818 - named like the category it reports
    """No VM with that id on the host."""

    category = "VmNotFound"


class DiskNotFound(HyperVSimError):  # noqa: N818
    """The VM has no disk drive with that id (or its file is gone)."""

    category = "DiskNotFound"


class NicNotFound(HyperVSimError):  # noqa: N818
    """The VM has no network adapter with that id."""

    category = "NicNotFound"


class CheckpointNotFound(HyperVSimError):  # noqa: N818
    """The VM has no checkpoint with that id."""

    category = "CheckpointNotFound"


class VmAlreadyExists(HyperVSimError):  # noqa: N818
    """The name or the VM folder is taken by another VM or job."""

    category = "VmAlreadyExists"


class InvalidVmState(HyperVSimError):  # noqa: N818
    """The VM's state does not allow the operation."""

    category = "InvalidVmState"


class ImageNotFound(HyperVSimError):  # noqa: N818
    """The golden image (or provisioning ISO) is missing."""

    category = "ImageNotFound"


class SwitchNotFound(HyperVSimError):  # noqa: N818
    """The virtual switch does not exist."""

    category = "SwitchNotFound"


class InsufficientResources(HyperVSimError):  # noqa: N818
    """Not enough free disk space or memory."""

    category = "InsufficientResources"


class ClusterError(HyperVSimError):
    """The host is not clustered, or the cluster refused the change."""

    category = "ClusterError"


class InvalidParameters(HyperVSimError):  # noqa: N818
    """The parameters are unusable (e.g. a VM name that cannot be a folder name)."""

    category = "InvalidParameters"


class OperationTimeout(HyperVSimError):  # noqa: N818
    """A wait inside the script ran out (e.g. a guest shutdown)."""

    category = "OperationTimeout"


class OperationNotFound(HyperVSimError):  # noqa: N818
    """No background operation of that id in that Aether-V folder."""

    category = "OperationNotFound"


class HostUnreachable(HyperVSimError):  # noqa: N818
    """Another host the operation needs (a migration's destination) does not answer."""

    category = "HostUnreachable"


class FileInUse(HyperVSimError):  # noqa: N818
    """A file another process holds open (Windows refuses to delete, move or replace it).

    Scripts do not catch the ``System.IO.IOException``, so it reaches the bootstrap as ``ScriptFailed``.
    """

    category = "ScriptFailed"
