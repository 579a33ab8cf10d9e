"""Wire names of the KVP provisioning protocol: item keys, state strings, error summaries, limits and timing.

These strings are the wire format shared with the guest agents baked into existing ISOs and golden images;
they must never change. See ``reference/guest-protocol.md`` §3 (keys), §4 (states), §7 (chunking), §9
(timing) and §14 (error summaries).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

PREFIX: Final = "hlvmm."
META_PREFIX: Final = "hlvmm.meta."
DATA_PREFIX: Final = "hlvmm.data."

VERSION_KEY: Final = "hlvmm.meta.version"
HOST_STATE_KEY: Final = "hlvmm.meta.host_provisioning_system_state"
GUEST_PUBLIC_KEY_KEY: Final = "hlvmm.meta.guest_provisioning_public_key"
GUEST_STATE_KEY: Final = "hlvmm.meta.guest_provisioning_system_state"
GUEST_ERROR_KEY: Final = "hlvmm.meta.guest_provisioning_error"
SHARED_AES_KEY_KEY: Final = "hlvmm.meta.shared_aes_key"
CHECKSUM_KEY: Final = "hlvmm.meta.provisioning_system_checksum"


class HostState(StrEnum):
    """Values the host writes to ``hlvmm.meta.host_provisioning_system_state``."""

    WAITING_FOR_PUBLIC_KEY = "waitingforpublickey"
    DATA_PUBLISHED = "provisioningdatapublished"


class GuestState(StrEnum):
    """Values the guest writes to ``hlvmm.meta.guest_provisioning_system_state``."""

    WAITING_FOR_AES_KEY = "waitingforaeskey"
    APPLYING = "applying"
    APPLIED = "provisioningapplied"
    FAILED = "provisioningfailed"


class DataKey(StrEnum):
    """The data keys of §3's catalogue, without the ``hlvmm.data.`` namespace."""

    GUEST_HOST_NAME = "guest_host_name"
    GUEST_LA_UID = "guest_la_uid"
    GUEST_LA_PW = "guest_la_pw"
    GUEST_V4_IP_ADDR = "guest_v4_ip_addr"
    GUEST_V4_CIDR_PREFIX = "guest_v4_cidr_prefix"
    GUEST_V4_DEFAULT_GW = "guest_v4_default_gw"
    GUEST_V4_DNS1 = "guest_v4_dns1"
    GUEST_V4_DNS2 = "guest_v4_dns2"
    GUEST_NET_DNS_SUFFIX = "guest_net_dns_suffix"
    GUEST_DOMAIN_JOIN_TARGET = "guest_domain_join_target"
    GUEST_DOMAIN_JOIN_UID = "guest_domain_join_uid"
    GUEST_DOMAIN_JOIN_PW = "guest_domain_join_pw"
    GUEST_DOMAIN_JOIN_OU = "guest_domain_join_ou"
    ANSIBLE_SSH_USER = "ansible_ssh_user"
    ANSIBLE_SSH_KEY = "ansible_ssh_key"

    @property
    def full_name(self) -> str:
        """The KVP item name, e.g. ``hlvmm.data.guest_host_name``."""
        return DATA_PREFIX + self.value


DATA_KEYS: Final[frozenset[str]] = frozenset(key.value for key in DataKey)


class ErrorSummary(StrEnum):
    """The fixed error summaries the [A] guests publish in ``guest_provisioning_error`` (§14).

    Linux module failures use ``error applying:<module>`` instead (see :func:`module_error_summary`).
    """

    INITIALIZING_SERVICE = "error initializing:service"
    INITIALIZING_KVP_DAEMON = "error initializing:kvp_daemon"
    WAITING_HOST_SIGNAL = "error waiting:host_signal"
    VALIDATING_MANIFEST = "error validating:manifest"
    GENERATING_RSA_KEYS = "error generating:rsa_keys"
    PUBLISHING_PUBLIC_KEY = "error publishing:public_key"
    PUBLISHING_GUEST_STATE = "error publishing:guest_state"
    WAITING_PROVISIONING_DATA = "error waiting:provisioning_data"
    DECRYPTING_SHARED_AES_KEY = "error decrypting:shared_aes_key"
    READING_PROVISIONING_DATA = "error reading:provisioning_data"
    DECRYPTING_PROVISIONING_DATA = "error decrypting:provisioning_data"
    VALIDATING_CHECKSUM = "error validating:checksum"
    APPLYING_MODULES = "error applying:modules"
    PUBLISHING_SUCCESS_STATE = "error publishing:success_state"
    UNKNOWN = "error:unknown"


def module_error_summary(module: str) -> str:
    """The Linux summary for a failed module, e.g. ``error applying:mod_net``."""
    return f"error applying:{module}"


def data_key_name(key: str) -> str:
    """The full KVP name of a bare data key (``guest_la_pw`` → ``hlvmm.data.guest_la_pw``)."""
    return DATA_PREFIX + key


def chunk_key_name(name: str, index: int) -> str:
    """The KVP name of chunk ``index`` of item ``name`` (``hlvmm.data.ansible_ssh_key._3``)."""
    if not 0 <= index < MAX_CHUNKS:
        raise ValueError(f"chunk index must be within 0..{MAX_CHUNKS - 1}, got {index}")
    return f"{name}._{index}"


CHUNK_SUFFIX: Final = re.compile(r"\._[0-9]+$")
"""Matches the ``._N`` suffix of a chunk item name (the pattern both guest agents use)."""

CHUNK_UNITS: Final = 100
"""Values longer than this many UTF-16 code units are split into chunks of this size."""
MAX_CHUNKS: Final = 30
"""Chunks ``._0`` … ``._29`` at most."""
MAX_VALUE_UNITS: Final = CHUNK_UNITS * MAX_CHUNKS
"""Longest value the host publishes, in UTF-16 code units (3000)."""
MAX_ERROR_SUMMARY_CHARS: Final = 200
"""The guests truncate their error summary to this many characters."""

# Timing of the original host and guests (§9), in seconds; the host workflow makes these configurable.
POLL_INTERVAL_SECONDS: Final = 5.0
"""Both sides poll the other's state at this interval."""
WAIT_FOR_PUBLIC_KEY_TIMEOUT_SECONDS: Final = 300.0
"""[A] host limit for the guest to reach ``waitingforaeskey`` ([H] used 600 s)."""
PUBLIC_KEY_READ_ATTEMPTS: Final = 120
"""The host retries reading the public key this many times, one second apart."""
PUBLISH_PAUSE_SECONDS: Final = 30.0
"""Pause between writing the data and writing ``provisioningdatapublished`` (D4)."""
WAIT_FOR_COMPLETION_TIMEOUT_SECONDS: Final = 1800.0
"""[A] host limit for ``provisioningapplied`` / ``provisioningfailed``."""
LINUX_GUEST_WAIT_SECONDS: Final = 300.0
"""The Linux guest gives up waiting for each host state after this long (Windows waits forever, D5)."""
LINUX_CHECKSUM_RETRY_SECONDS: Final = 30.0
"""The Linux guest re-scans and retries the checksum once after this pause."""

# -- Extensions understood by this project's guest agents (older hosts and agents ignore them) ---------------

HOST_NONCE_KEY: Final = "hlvmm.meta.host_provisioning_nonce"
"""Host item written with the announce (before ``waitingforpublickey``): a fresh random token per run.

Current guest agents echo it in :data:`GUEST_AGENT_KEY` together with the fingerprint of the public key they
publish, so the host can tell this run's key from one left in a golden image's guest pool. Upstream agents
ignore it."""

GUEST_AGENT_KEY: Final = "hlvmm.meta.guest_agent"
"""Guest item written next to the public key by this project's agents: the capability mark.

Format: ``<agent>/<version>;caps=<cap>,<cap>…[;net=<stack>][;nonce=<host nonce>;key=<sha256 hex>]``, e.g.
``aetherv-linux/1.0.0;caps=exact-values,chunks,hostname,admin,ipv4,dns-suffix,ansible,nonce;net=netplan;
nonce=…;key=…``. ``key`` is the SHA-256 (hex) of the published public-key text without whitespace. Parsed
by :mod:`functions.guest.capabilities`; upstream agents never write it."""

NONCE_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")
"""What a host nonce looks like; agents echo only a nonce that matches it in full."""
