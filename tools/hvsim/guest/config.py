"""The simulated guest's vocabulary: the wire names it reads and writes, its behaviour switches, what it applied.

The KVP names and state values are repeated here on purpose rather than imported from ``functions.guest``, so
that a bug on the host side shows up as a guest failure instead of being mirrored (see :mod:`tools.hvsim.guest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "APPLIED",
    "APPLYING",
    "FAILED",
    "LINUX_MODULES",
    "WAITING_FOR_AES_KEY",
    "WINDOWS_MODULES",
    "AgentFailureError",
    "AppliedConfig",
    "DomainJoin",
    "GuestBehaviour",
    "OsFamily",
    "StaticIPv4",
]

OsFamily = Literal["windows", "linux"]

# Wire names, repeated here on purpose (see the module docstring).
HOST_STATE: Final = "hlvmm.meta.host_provisioning_system_state"
VERSION: Final = "hlvmm.meta.version"
PUBLIC_KEY: Final = "hlvmm.meta.guest_provisioning_public_key"
GUEST_STATE: Final = "hlvmm.meta.guest_provisioning_system_state"
GUEST_ERROR: Final = "hlvmm.meta.guest_provisioning_error"
SHARED_AES_KEY: Final = "hlvmm.meta.shared_aes_key"
CHECKSUM: Final = "hlvmm.meta.provisioning_system_checksum"
DATA_PREFIX: Final = "hlvmm.data."
CHUNK_SUFFIX: Final = re.compile(r"\._[0-9]+$")
MAX_CHUNKS: Final = 30
MAX_SUMMARY: Final = 200

WAITING_FOR_PUBLIC_KEY: Final = "waitingforpublickey"
DATA_PUBLISHED: Final = "provisioningdatapublished"
WAITING_FOR_AES_KEY: Final = "waitingforaeskey"
APPLYING: Final = "applying"
APPLIED: Final = "provisioningapplied"
FAILED: Final = "provisioningfailed"

WINDOWS_MODULES: Final = ("mod_general", "mod_net", "mod_domain")
LINUX_MODULES: Final = ("mod_general", "mod_net", "mod_ansible")


@dataclass(frozen=True, slots=True)
class GuestBehaviour:
    """Switches for a simulated guest; the defaults behave like a healthy [A] agent.

    Times are in seconds of the injected clock. ``fail_module`` names a module of the flavour
    (``mod_general``, ``mod_net``, ``mod_domain`` on Windows, ``mod_ansible`` on Linux) that fails when run.
    ``stale_guest_pool`` makes the first tick pre-populate the guest pool as an earlier run would have left it
    (a public key of another key pair, ``stale_guest_state`` and, if set, ``stale_guest_error``).
    """

    boot_delay: float = 0.0
    poll_interval: float = 5.0
    linux_host_signal_timeout: float = 300.0
    linux_data_timeout: float = 300.0
    linux_checksum_retry_delay: float = 30.0
    silent: bool = False
    missing_kvp_daemon: bool = False
    fail_module: str | None = None
    hlvmm_era: bool = False
    stale_guest_pool: bool = False
    stale_guest_state: str = APPLIED
    stale_guest_error: str = ""
    corrupt_public_key: bool = False


@dataclass(frozen=True, slots=True)
class StaticIPv4:
    """The static address ``mod_net`` configured (``interface`` is ``eth0`` on Linux, ``None`` on Windows)."""

    interface: str | None
    address: str
    prefix_length: str | None
    gateway: str | None
    dns_servers: tuple[str, ...]
    dns_suffix: str | None


@dataclass(frozen=True, slots=True)
class DomainJoin:
    """The domain ``mod_domain`` joined (Windows only)."""

    domain: str
    ou: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AppliedConfig:
    """What the guest's modules did, for assertions; secrets are kept out of the repr.

    ``modules`` lists the modules that completed, in order; after a module failure it shows how far the
    agent got.
    """

    modules: tuple[str, ...] = ()
    hostname: str | None = None
    admin_user: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    ipv4: StaticIPv4 | None = None
    domain: DomainJoin | None = None
    ansible_user: str | None = None
    ansible_ssh_key: str | None = None


class AgentFailureError(Exception):
    """The agent gives up with ``summary``, the error it publishes in the guest pool."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary
