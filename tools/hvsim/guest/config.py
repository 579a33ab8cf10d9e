"""The simulated guest's vocabulary: the wire names it reads and writes, its behaviour switches, what it applied.

The KVP names and state values are repeated here on purpose rather than imported from ``functions.guest``, so
that a bug on the host side shows up as a guest failure instead of being mirrored (see :mod:`tools.hvsim.guest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal

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
AGENT_MARK: Final = "hlvmm.meta.guest_agent"
HOST_NONCE: Final = "hlvmm.meta.host_provisioning_nonce"
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


AGENT_KINDS: Final = ("aetherv", "upstream")
"""``aetherv``: this project's agents (``agents/``); ``upstream``: the Aether-V 2.4 agents, defects included."""
NETWORK_STACKS: Final = ("auto", "netplan", "networkmanager", "none")
FAILABLE_COMMANDS: Final = (
    "useradd",
    "usermod",
    "chpasswd",
    "hostnamectl",
    "netplan",
    "nmcli",
    "systemctl",
    "reboot",
    "id",
    "getent",
    "chown",
)
"""The system commands the real Linux agent calls by name (its testability contract); each has a stub."""
VERIFY_ITEMS: Final = ("host_name", "domain_join", "admin", "ipv4", "dns_servers", "dns_suffix")
"""What the project's Windows agent verifies after its reboot (``error verifying:<item>``)."""


@dataclass(frozen=True, slots=True)
class GuestBehaviour:
    """Switches for a guest; the defaults behave like a healthy guest with this project's agent.

    ``agent`` picks the agent generation: ``aetherv`` (this project's agents, the default) or ``upstream`` (the
    Aether-V 2.4 agents with their defects, §17). A Linux guest with the ``aetherv`` agent runs the real
    ``agents/linux/aetherv-guest-agent`` in a sandbox unless ``real_linux_agent`` is false or a switch asks for
    something only the pure-Python guest can do (``fail_module``, ``hlvmm_era``, ``corrupt_public_key``); see
    :attr:`runs_real_linux_agent`.

    Times are in seconds of the injected clock. ``boot_delay`` is the time from the VM reaching Running until
    the guest's KVP daemon and agent run (the guest pool is empty until then). ``fail_module`` names a module
    of the flavour (``mod_general``, ``mod_net``, ``mod_domain`` on Windows, ``mod_ansible`` on Linux) that
    fails when run. ``stale_guest_pool`` makes the guest pool hold, from boot on, what an earlier run left in
    the golden image (a public key of another key pair, ``stale_guest_state`` and, if set,
    ``stale_guest_error``; with the ``aetherv`` agent also that run's capability mark).

    For the real Linux agent: ``failing_commands`` lists stub commands that exit 1, ``linux_network`` the
    network stack of the image (``auto``: NetworkManager for RHEL-family images, else netplan). For the
    ``aetherv`` Windows guest: ``fail_verify`` names an item (:data:`VERIFY_ITEMS`) found wrong after the reboot.
    ``poll_interval``, the Linux wait limits and ``linux_checksum_retry_delay`` (the checksum retry of both
    ``aetherv`` agents) tune the agent's timing.
    """

    agent: str = "aetherv"
    real_linux_agent: bool = True
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
    failing_commands: tuple[str, ...] = ()
    linux_network: str = "auto"
    fail_verify: str | None = None

    def __post_init__(self) -> None:
        if self.agent not in AGENT_KINDS:
            raise ValueError(f"agent must be one of {', '.join(AGENT_KINDS)}")
        if self.linux_network not in NETWORK_STACKS:
            raise ValueError(f"linux_network must be one of {', '.join(NETWORK_STACKS)}")
        commands = tuple(self.failing_commands)
        unknown = sorted(set(commands) - set(FAILABLE_COMMANDS))
        if unknown:
            raise ValueError(f"failing_commands may only name {', '.join(FAILABLE_COMMANDS)}; got {unknown}")
        object.__setattr__(self, "failing_commands", commands)  # JSON lists become tuples
        if self.fail_verify is not None and self.fail_verify not in VERIFY_ITEMS:
            raise ValueError(f"fail_verify must be one of {', '.join(VERIFY_ITEMS)}")
        if self.boot_delay < 0:
            raise ValueError("boot_delay must not be negative")

    @property
    def exact(self) -> bool:
        """Whether the agent applies values exactly (this project's agents, not an HLVMM-era or upstream one)."""
        return self.agent == "aetherv" and not self.hlvmm_era

    @property
    def runs_real_linux_agent(self) -> bool:
        """Whether a Linux guest runs the real agent process (False: the pure-Python guest plays it)."""
        simulated_only = self.fail_module is not None or self.hlvmm_era or self.corrupt_public_key
        return self.exact and self.real_linux_agent and not simulated_only


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

    def to_json(self) -> dict[str, Any]:
        """As JSON for the control plane (a test tool: the applied passwords are shown so tests can check them)."""
        ipv4 = self.ipv4
        domain = self.domain
        return {
            "modules": list(self.modules),
            "hostname": self.hostname,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "ipv4": None
            if ipv4 is None
            else {
                "interface": ipv4.interface,
                "address": ipv4.address,
                "prefix_length": ipv4.prefix_length,
                "gateway": ipv4.gateway,
                "dns_servers": list(ipv4.dns_servers),
                "dns_suffix": ipv4.dns_suffix,
            },
            "domain": None
            if domain is None
            else {"domain": domain.domain, "ou": domain.ou, "user": domain.user, "password": domain.password},
            "ansible_user": self.ansible_user,
            "ansible_ssh_key": self.ansible_ssh_key,
        }


class AgentFailureError(Exception):
    """The agent gives up with ``summary``, the error it publishes in the guest pool."""

    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary
