"""Simulated guest agent of the KVP provisioning protocol, Windows and Linux flavours, defects included.

A :class:`SimulatedGuest` plays the provisioning agent of one VM (``reference/guest-protocol.md`` §4, §11,
§12, §16): it reads the host pool (items the host wrote), writes the guest pool, and records what its
modules would have configured in :attr:`SimulatedGuest.applied`. Time comes from an injectable clock, so
tests run the 5 s polls and the Linux 300 s timeouts instantly with a fake clock.

This is deliberately an **independent implementation** of the guest side: it does not import
``functions.guest``, and it repeats the key names, the decryption and the checksum recipe on its own, so
that a bug in the host side shows up as a guest failure instead of being mirrored. The small duplication is
intended.

Driving it: call :meth:`SimulatedGuest.tick` whenever the host reads the guest pool, **before** every change
the host makes to its pool, and on a background timer. Between two ticks the agent assumes the host pool did
not change, which lets it replay every poll it would have made since the previous tick.

Behaviour of the original agents that is reproduced (§16, §17):

- Windows ejects its CD when the agent starts, waits for host states forever (D5), discovers only bare
  ``hlvmm.data.*`` names and so never reads chunked values (D1, the checksum then fails), ignores the DNS
  suffix (D10), joins a domain only with target, user, password and OU (D8), writes the error key only when
  it is not empty, compares the checksum case-insensitively (PowerShell ``-ne``).
- Linux gives up after 300 s waiting for each host state, reassembles chunks, loses trailing newlines of
  each chunk and of each value (D2; command substitution), drops NUL bytes, decrypts with a ``-nopad``
  fallback that turns bad padding into garbage, checks the unwrapped key is 32 bytes, retries the checksum
  once after 30 s, writes an empty error with ``waitingforaeskey``, ``applying`` and
  ``provisioningapplied``, reads a value that is exactly an ``echo`` option (``-n``, ``-e``, ``-E`` …) as
  empty, and reports ``error applying:<module>``.
- Both skip values that fail to decrypt (the checksum then fails), truncate summaries to 200 characters, and
  compare versions after trimming whitespace and NULs.

Divergences: with ``missing_kvp_daemon`` the failure is written to the guest pool so tests can see it (a
real guest's write would never reach the host, which would time out instead); unwrapping the AES key with
the wrong RSA key can, rarely, yield 32 random bytes rather than an error (OpenSSL's implicit rejection),
which then surfaces as a checksum failure; the Windows phase-two domain join after the reboot always
succeeds.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import math
import re
import struct
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Final, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

OsFamily = Literal["windows", "linux"]

# Wire names, repeated here on purpose (see the module docstring).
_HOST_STATE: Final = "hlvmm.meta.host_provisioning_system_state"
_VERSION: Final = "hlvmm.meta.version"
_PUBLIC_KEY: Final = "hlvmm.meta.guest_provisioning_public_key"
_GUEST_STATE: Final = "hlvmm.meta.guest_provisioning_system_state"
_GUEST_ERROR: Final = "hlvmm.meta.guest_provisioning_error"
_SHARED_AES_KEY: Final = "hlvmm.meta.shared_aes_key"
_CHECKSUM: Final = "hlvmm.meta.provisioning_system_checksum"
_DATA_PREFIX: Final = "hlvmm.data."
_CHUNK_SUFFIX: Final = re.compile(r"\._[0-9]+$")
_MAX_CHUNKS: Final = 30
_MAX_SUMMARY: Final = 200

_WAITING_FOR_PUBLIC_KEY: Final = "waitingforpublickey"
_DATA_PUBLISHED: Final = "provisioningdatapublished"
WAITING_FOR_AES_KEY: Final = "waitingforaeskey"
APPLYING: Final = "applying"
APPLIED: Final = "provisioningapplied"
FAILED: Final = "provisioningfailed"

WINDOWS_MODULES: Final = ("mod_general", "mod_net", "mod_domain")
LINUX_MODULES: Final = ("mod_general", "mod_net", "mod_ansible")

_ECHO_OPTION: Final = re.compile(rb"-[neE]+")


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


class _Phase(Enum):
    BOOTING = "booting"
    WAITING_FOR_HOST_SIGNAL = "waiting_for_host_signal"
    WAITING_FOR_DATA = "waiting_for_data"
    CHECKSUM_RETRY = "checksum_retry"
    STOPPED = "stopped"
    APPLIED = "applied"
    FAILED = "failed"


class _AgentFailureError(Exception):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


@functools.cache
def pooled_key(slot: int = 0) -> rsa.RSAPrivateKey:
    """A process-wide RSA-2048 key for ``slot``, generated once; pass it as ``key=`` to keep big runs fast."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def capi_public_key_blob(public_key: rsa.RSAPublicKey) -> bytes:
    """The Windows agent's ``ExportCspBlob(false)``: PUBLICKEYBLOB, RSAPUBKEY, little-endian modulus."""
    numbers = public_key.public_numbers()
    size = (public_key.key_size + 7) // 8
    # bType 0x06, bVersion 0x02, reserved, aiKeyAlg CALG_RSA_KEYX, magic "RSA1", bitlen, pubexp
    header = struct.pack("<BBHI4sII", 0x06, 0x02, 0, 0x0000A400, b"RSA1", public_key.key_size, numbers.e)
    return header + numbers.n.to_bytes(size, "little")


def export_public_key(public_key: rsa.RSAPublicKey, os_family: OsFamily) -> str:
    """The public key as the given agent publishes it: CAPI blob (Windows) or PKCS#1 DER (Linux), base64."""
    if os_family == "windows":
        blob = capi_public_key_blob(public_key)
    else:
        blob = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(blob).decode("ascii")


class SimulatedGuest:
    """The provisioning agent of one simulated VM; build a new one for each boot with a provisioning ISO.

    Boot starts when the object is constructed; the agent starts ``behaviour.boot_delay`` seconds later.
    """

    def __init__(
        self,
        os_family: OsFamily,
        iso_version: str,
        *,
        behaviour: GuestBehaviour | None = None,
        clock: Callable[[], float] = time.monotonic,
        key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        if os_family not in ("windows", "linux"):
            raise ValueError(f"os_family must be 'windows' or 'linux', got {os_family!r}")
        self.os_family: OsFamily = os_family
        self.iso_version = iso_version
        self.behaviour = behaviour if behaviour is not None else GuestBehaviour()
        modules = WINDOWS_MODULES if os_family == "windows" else LINUX_MODULES
        if self.behaviour.fail_module is not None and self.behaviour.fail_module not in modules:
            raise ValueError(f"fail_module must be one of {modules} for a {os_family} guest")
        if self.behaviour.poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        if key is not None and key.key_size != 2048:
            raise ValueError("the guest key must be RSA-2048")
        self._clock = clock
        self._lock = threading.Lock()
        self._injected_key = key
        self._private_key: rsa.RSAPrivateKey | None = None
        self._phase = _Phase.BOOTING
        self._booted_at = clock()
        self._agent_start = self._booted_at + self.behaviour.boot_delay
        self._wait_start = 0.0
        self._poll_index = 0
        self._retry_at = 0.0
        self._aes_key = b""
        self._first_tick = True
        self._t = self._booted_at  # simulated time of the step being replayed
        self.state: str | None = None
        """The last provisioning state this agent wrote (``None`` before it wrote one)."""
        self.error_summary: str | None = None
        """The last non-empty error summary this agent published."""
        self.public_key_b64: str | None = None
        """The public key this agent published."""
        self.applied: AppliedConfig | None = None
        """What the modules did, once they ran."""
        self.ejected_cd = False
        """Windows ejects every CD drive when its agent starts."""
        self.reboot_requested = False
        """True after ``provisioningapplied``: the host model cycles the VM, then calls :meth:`rebooted`."""
        self.reboots = 0
        self.events: list[tuple[float, str]] = []
        """What the agent did, with the (simulated) time; no values or secrets."""

    def __repr__(self) -> str:
        return (
            f"SimulatedGuest(os_family={self.os_family!r}, iso_version={self.iso_version!r}, "
            f"phase={self._phase.value!r}, state={self.state!r})"
        )

    @property
    def phase(self) -> str:
        """Where the agent is (``booting``, ``waiting_for_host_signal``, ``applied``, ``failed`` …)."""
        return self._phase.value

    def rebooted(self) -> None:
        """Tell the guest its reboot finished (phase two ran: cleanup, and the Windows domain join retry)."""
        if self.reboot_requested:
            self.reboot_requested = False
            self.reboots += 1
            self.events.append((self._clock(), "rebooted; phase two completed"))

    def intrinsic_items(self) -> dict[str, str]:
        """The intrinsic KVP items the integration services would publish now (``OSName``, FQDN, IPv4)."""
        windows = self.os_family == "windows"
        items = {"OSName": "Windows Server 2022 Datacenter" if windows else "Ubuntu 24.04 LTS"}
        name = "WIN-TEMPLATE" if windows else "hlvmm-guest"
        address = None
        if self.applied is not None and self.reboots > 0:
            name = self.applied.hostname or name
            if self.applied.domain is not None:
                name = f"{name}.{self.applied.domain.domain}"
            if self.applied.ipv4 is not None:
                address = self.applied.ipv4.address
        items["FullyQualifiedDomainName"] = name
        if address is not None:
            items["NetworkAddressIPv4"] = address
        return items

    # -- driving -------------------------------------------------------------------------------------------

    def tick(self, host_pool: Mapping[str, str], guest_pool: MutableMapping[str, str]) -> None:
        """Advance the agent to the current time, reading ``host_pool`` and writing ``guest_pool``."""
        with self._lock:
            now = self._clock()
            host = dict(host_pool)
            if self._first_tick:
                self._first_tick = False
                if self.behaviour.stale_guest_pool:
                    self._write_stale_items(guest_pool)
            if self.behaviour.silent:
                return
            try:
                while self._step(now, host, guest_pool):
                    pass
            except _AgentFailureError as failure:
                self._fail(failure.summary, guest_pool)

    def _step(self, now: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> bool:
        if self._phase is _Phase.BOOTING:
            if now < self._agent_start:
                return False
            self._start_agent(guest)
            return True
        if self._phase is _Phase.WAITING_FOR_HOST_SIGNAL:
            timeout = self.behaviour.linux_host_signal_timeout if self.os_family == "linux" else None
            summary = "error waiting:host_signal"
            at = self._poll(
                now, timeout, summary, lambda: self._read(host, _HOST_STATE) == _WAITING_FOR_PUBLIC_KEY
            )
            if at is None:
                return False
            self._on_host_signal(at, host, guest)
            return True
        if self._phase is _Phase.WAITING_FOR_DATA:
            timeout = self.behaviour.linux_data_timeout if self.os_family == "linux" else None
            summary = "error waiting:provisioning_data"
            at = self._poll(now, timeout, summary, lambda: self._read(host, _HOST_STATE) == _DATA_PUBLISHED)
            if at is None:
                return False
            self._on_data_published(at, host, guest)
            return True
        if self._phase is _Phase.CHECKSUM_RETRY:
            if now < self._retry_at:
                return False
            self._on_checksum_retry(self._retry_at, host, guest)
            return True
        return False

    def _poll(
        self, now: float, timeout: float | None, summary: str, condition: Callable[[], bool]
    ) -> float | None:
        """Replay the polls due by ``now`` against the (unchanged since the last tick) host pool.

        Returns the time of the poll that saw the condition, or ``None`` if none did yet; raises on timeout.
        """
        interval = self.behaviour.poll_interval
        at = self._wait_start + self._poll_index * interval
        if at > now:
            return None
        if condition():
            return at
        # Every later poll up to now sees the same pool, so only the timeout can still happen.
        if timeout is not None:
            last_index = max(self._poll_index, math.ceil(timeout / interval))
            if self._wait_start + last_index * interval <= now:
                self._t = self._wait_start + last_index * interval
                self._log(f"timed out ({summary})")
                raise _AgentFailureError(summary)
        self._poll_index = math.floor((now - self._wait_start) / interval) + 1
        return None

    def _begin_wait(self, phase: _Phase, at: float) -> None:
        self._phase = phase
        self._wait_start = at
        self._poll_index = 0

    # -- protocol steps ------------------------------------------------------------------------------------

    def _start_agent(self, guest: MutableMapping[str, str]) -> None:
        at = self._t = self._agent_start
        self._log("agent started")
        if self.os_family == "windows":
            self.ejected_cd = True
            self._log("ejected CD-ROM drives")
        elif self.behaviour.missing_kvp_daemon:
            self._log("no KVP daemon running")
            raise _AgentFailureError("error initializing:kvp_daemon")
        self._begin_wait(_Phase.WAITING_FOR_HOST_SIGNAL, at)

    def _on_host_signal(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        self._log("host signalled waitingforpublickey")
        expected = self._normalise_version(self.iso_version)
        if not expected:
            # Linux reads its version file while its summary still names the host-signal wait.
            raise _AgentFailureError(
                "error validating:manifest" if self.os_family == "windows" else "error waiting:host_signal"
            )
        manifest = self._read(host, _VERSION)
        if not manifest or self._normalise_version(manifest) != expected:
            self._log("version mismatch")
            raise _AgentFailureError("error validating:manifest")

        self._private_key = self._injected_key or rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
        published = export_public_key(self._private_key.public_key(), self.os_family)
        if self.behaviour.corrupt_public_key:
            published = base64.b64encode(base64.b64decode(published)[:100]).decode("ascii")
        self.public_key_b64 = published
        guest[_PUBLIC_KEY] = published
        self._log("published public key")
        self._set_state(guest, WAITING_FOR_AES_KEY)
        if self.os_family == "linux" and not self.behaviour.hlvmm_era:
            guest[_GUEST_ERROR] = ""
        if self.behaviour.hlvmm_era:
            self._phase = _Phase.STOPPED
            self._log("HLVMM-era agent: nothing more is signalled")
            return
        self._begin_wait(_Phase.WAITING_FOR_DATA, at)

    def _on_data_published(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        self._log("host signalled provisioningdatapublished")
        self._aes_key = self._unwrap_aes_key(host)
        values = self._read_data(host)
        if self._checksum_matches(values, host):
            self._apply(at, values, guest)
        elif self.os_family == "linux":
            self._log("checksum mismatch; retrying")
            self._phase = _Phase.CHECKSUM_RETRY
            self._retry_at = at + self.behaviour.linux_checksum_retry_delay
        else:
            self._log("checksum mismatch")
            raise _AgentFailureError("error validating:checksum")

    def _on_checksum_retry(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        values = self._read_data(host, summary="error validating:checksum")
        if not self._checksum_matches(values, host):
            self._log("checksum mismatch after retry")
            raise _AgentFailureError("error validating:checksum")
        self._apply(at, values, guest)

    def _apply(self, at: float, values: Mapping[str, bytes], guest: MutableMapping[str, str]) -> None:
        self._set_state(guest, APPLYING)
        if self.os_family == "linux":
            guest[_GUEST_ERROR] = ""
        text = {name: value.decode("utf-8", "replace") for name, value in values.items()}
        done: list[str] = []
        config = AppliedConfig()
        modules = WINDOWS_MODULES if self.os_family == "windows" else LINUX_MODULES
        for module in modules:
            if module == self.behaviour.fail_module:
                self.applied = config
                self._log(f"{module} failed")
                raise _AgentFailureError(
                    "error applying:modules" if self.os_family == "windows" else f"error applying:{module}"
                )
            config = self._run_module(module, text, config)
            done.append(module)
            config = replace(config, modules=tuple(done))
            self._log(f"{module} completed")
        self.applied = config
        self._set_state(guest, APPLIED, clear_error=True)
        self._phase = _Phase.APPLIED
        self.reboot_requested = True
        self._log("provisioning applied; rebooting")

    # -- modules -------------------------------------------------------------------------------------------

    def _run_module(self, module: str, values: Mapping[str, str], config: AppliedConfig) -> AppliedConfig:
        def get(key: str) -> str | None:
            return values.get(_DATA_PREFIX + key) or None

        windows = self.os_family == "windows"
        if module == "mod_general":
            user, password = get("guest_la_uid"), get("guest_la_pw")
            has_user = bool(user and password)
            return replace(
                config,
                hostname=get("guest_host_name"),
                admin_user=user if has_user else None,
                admin_password=password if has_user else None,
            )
        if module == "mod_net":
            address, prefix, gateway = (
                get("guest_v4_ip_addr"),
                get("guest_v4_cidr_prefix"),
                get("guest_v4_default_gw"),
            )
            dns = tuple(server for server in (get("guest_v4_dns1"), get("guest_v4_dns2")) if server)
            if windows:
                if address is None:
                    return config
                ipv4 = StaticIPv4(None, address, prefix, gateway, dns, None)  # the suffix is ignored (D10)
            else:
                if not (address and prefix and gateway):
                    return config
                suffix = get("guest_net_dns_suffix") if dns else None
                ipv4 = StaticIPv4("eth0", address, prefix, gateway, dns, suffix)
            return replace(config, ipv4=ipv4)
        if module == "mod_domain":
            target, user = get("guest_domain_join_target"), get("guest_domain_join_uid")
            password, ou = get("guest_domain_join_pw"), get("guest_domain_join_ou")
            if not (target and user and password and ou):
                return config  # skipped silently (D8)
            return replace(config, domain=DomainJoin(target, ou, user, password))
        # mod_ansible
        user, ssh_key = get("ansible_ssh_user"), get("ansible_ssh_key")
        if not (user and ssh_key):
            return config
        return replace(config, ansible_user=user, ansible_ssh_key=ssh_key)

    # -- reading and decrypting ----------------------------------------------------------------------------

    def _read(self, host: Mapping[str, str], name: str) -> str | None:
        """Chunk-aware plaintext read of a host item, as each agent does it."""
        if self.os_family == "windows":
            if host.get(name):
                return host[name]
        elif name in host:
            return host[name]
        parts: list[str] = []
        for index in range(_MAX_CHUNKS):
            part = host.get(f"{name}._{index}")
            if not part:
                break
            parts.append(part)
        return "".join(parts) if parts else None

    def _unwrap_aes_key(self, host: Mapping[str, str]) -> bytes:
        summary = "error decrypting:shared_aes_key"
        wrapped_b64 = self._read(host, _SHARED_AES_KEY)
        if not wrapped_b64 or self._private_key is None:
            raise _AgentFailureError(summary)
        try:
            wrapped = base64.b64decode("".join(wrapped_b64.split()), validate=True)
            aes_key = self._private_key.decrypt(wrapped, padding.PKCS1v15())
        except (ValueError, binascii.Error):
            raise _AgentFailureError(summary) from None
        if len(aes_key) != 32:
            raise _AgentFailureError(summary)
        return aes_key

    def _data_names(self, host: Mapping[str, str]) -> list[str]:
        if self.os_family == "windows":
            # -like "hlvmm.data.*" -and -notmatch '\._[0-9]+$': chunks are dropped, never reassembled (D1)
            return [n for n in host if n.lower().startswith(_DATA_PREFIX) and not _CHUNK_SUFFIX.search(n)]
        names = [n for n in host if n.startswith(_DATA_PREFIX) and not _CHUNK_SUFFIX.search(n)]
        for name in host:
            if name.startswith(_DATA_PREFIX) and _CHUNK_SUFFIX.search(name):
                base = name[: name.rindex("._")]
                if base not in names:
                    names.append(base)
        return names

    def _read_data(
        self, host: Mapping[str, str], summary: str = "error reading:provisioning_data"
    ) -> dict[str, bytes]:
        """Discover and decrypt the data values; values failing to decrypt are left out, as both agents do."""
        names = self._data_names(host)
        if not names:
            raise _AgentFailureError(summary)
        values: dict[str, bytes] = {}
        for name in names:
            value = self._decrypt_item(host, name)
            if value is not None:
                values[name] = value
        return values

    def _decrypt_item(self, host: Mapping[str, str], name: str) -> bytes | None:
        windows = self.os_family == "windows"
        bare = host.get(name)
        if (windows and bare) or (not windows and bare is not None):
            pieces = [bare]
        else:
            pieces = []
            for index in range(_MAX_CHUNKS):
                part = host.get(f"{name}._{index}")
                if not part:
                    break
                pieces.append(part)
            if not pieces:
                return None
        plain = b""
        for piece in pieces:
            decrypted = self._decrypt_windows(piece) if windows else self._decrypt_linux(piece)
            if decrypted is None:
                return None
            if windows:  # UTF8.GetString replaces invalid bytes; the checksum re-encodes the string
                plain += decrypted.decode("utf-8", "replace").encode("utf-8")
            else:  # each chunk is captured with command substitution, which drops trailing newlines (D2)
                plain += _shell_capture(decrypted)
        if windows:
            return plain or None  # `if ($decryptedValue)`
        value = _shell_capture(plain)  # `echo` into a file, read back with $(cat …)
        if _ECHO_OPTION.fullmatch(value):
            return b""  # echo takes "-n" & co. as options and prints nothing
        return value

    def _decrypt_windows(self, item: str) -> bytes | None:
        try:
            blob = base64.b64decode("".join(item.split()), validate=True)
        except (ValueError, binascii.Error):
            return None
        iv, ciphertext = blob[:16], blob[16:]
        if len(iv) < 16 or not ciphertext or len(ciphertext) % 16:
            return None
        padded = self._aes_cbc_decrypt(iv, ciphertext)
        pad = padded[-1]
        if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
            return None
        return padded[:-pad]

    def _decrypt_linux(self, item: str) -> bytes | None:
        try:
            blob = base64.b64decode("".join(item.split()), validate=True)
        except (ValueError, binascii.Error):
            return None
        if len(blob) < 16:
            return None
        iv, ciphertext = blob[:16], blob[16:]
        if not ciphertext or len(ciphertext) % 16:
            return (
                b""  # `openssl … -nopad | sed …` fails inside a pipeline whose status is sed's: empty output
            )
        padded = self._aes_cbc_decrypt(iv, ciphertext)
        pad = padded[-1]
        if 1 <= pad <= 16 and padded[-pad:] == bytes([pad]) * pad:
            return padded[:-pad]
        # -nopad fallback: raw blocks with trailing NULs stripped from each line (sed 's/\x00*$//')
        return b"\n".join(line.rstrip(b"\x00") for line in padded.split(b"\n"))

    def _aes_cbc_decrypt(self, iv: bytes, ciphertext: bytes) -> bytes:
        decryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(iv)).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()

    def _checksum_matches(self, values: Mapping[str, bytes], host: Mapping[str, str]) -> bool:
        published = self._read(host, _CHECKSUM) or ""
        if self.os_family == "windows":
            ordered = sorted(values, key=lambda name: (name.casefold(), name))  # Sort-Object, culture-aware
            joined = b"|".join(values[name] for name in ordered)
        else:
            kept = {name: value for name, value in values.items() if value.strip()}
            joined = b"|".join(kept[name] for name in sorted(kept))  # `sort`
            published = _shell_capture(published.encode("utf-8")).decode("utf-8", "replace")
        computed = base64.b64encode(hashlib.sha256(joined).digest()).decode("ascii")
        if self.os_family == "windows":
            return computed.casefold() == published.casefold()  # PowerShell -ne is case-insensitive
        return computed == published

    # -- writing -------------------------------------------------------------------------------------------

    def _set_state(self, guest: MutableMapping[str, str], state: str, *, clear_error: bool = False) -> None:
        if clear_error and self.os_family == "linux":
            guest[_GUEST_ERROR] = ""
        guest[_GUEST_STATE] = state
        self.state = state
        self._log(f"state {state}")

    def _log(self, event: str) -> None:
        self.events.append((self._t, event))

    def _fail(self, summary: str, guest: MutableMapping[str, str]) -> None:
        summary = summary[:_MAX_SUMMARY]
        guest[_GUEST_ERROR] = summary
        self.error_summary = summary
        self._set_state(guest, FAILED)
        self._phase = _Phase.FAILED

    def _write_stale_items(self, guest: MutableMapping[str, str]) -> None:
        old_key = pooled_key(1_000_003).public_key()
        guest[_PUBLIC_KEY] = export_public_key(old_key, self.os_family)
        guest[_GUEST_STATE] = self.behaviour.stale_guest_state
        if self.behaviour.stale_guest_error or self.os_family == "linux":
            guest[_GUEST_ERROR] = self.behaviour.stale_guest_error
        self._log("guest pool holds items of an earlier run")

    def _normalise_version(self, version: str) -> str:
        if self.os_family == "windows":
            return version.replace("\x00", "").strip()  # -replace "`0", "" then .Trim()
        return " ".join(re.sub("[\x00\r\n]", "", version).split())  # tr -d '\0\r\n' | xargs


def _shell_capture(data: bytes) -> bytes:
    """What ``$(…)`` keeps of a command's output: NUL bytes dropped, trailing newlines removed."""
    return data.replace(b"\x00", b"").rstrip(b"\n")
