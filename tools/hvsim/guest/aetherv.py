"""How this project's agents (``agents/linux``, ``agents/windows``) read, decrypt and apply, for the simulated guest.

The pure-Python guest plays them when asked to (the ``aetherv`` agent of :class:`GuestBehaviour`): always for
Windows, and for Linux when a test needs a switch the real agent process cannot show. What they do differently
from the upstream agents (``docs/guest-agents.md``):

- they publish a capability mark next to the public key, echoing the host's nonce when it looks like one;
- meta items are read bare; data keys are the bare names plus the base names of ``._N`` chunks, reassembled
  byte for byte; a value that does not decrypt (or, on Windows, is not strict UTF-8) fails the run;
- the checksum skips whitespace-only values, sorts keys ordinally and compares exactly; a mismatch is retried
  once after the retry delay on both flavours;
- values are applied exactly (no trimming, no word splitting, no code page), a value that cannot be applied
  fails the run (``error applying:<module>``), and a key the agent does not apply fails it too
  (``error applying:unsupported <key>``: domain join on Linux, Ansible on Windows);
- Windows applies the DNS suffix, joins the domain into the OU, reboots with the state still ``applying`` and
  reports ``provisioningapplied`` only after verifying the result.

Written from the agents' source, independently of ``functions.guest`` (see :mod:`tools.hvsim.guest`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tools.hvsim.guest.config import (
    CHECKSUM,
    CHUNK_SUFFIX,
    DATA_PREFIX,
    MAX_CHUNKS,
    SHARED_AES_KEY,
    AgentFailureError,
    AppliedConfig,
    DomainJoin,
    OsFamily,
    StaticIPv4,
)
from tools.hvsim.guest.reading import unwrap_shared_key

__all__ = ["ExactReader", "agent_mark", "run_exact_module", "unsupported_key"]

AGENT_VERSION: Final = "1.0.0"
_CAPS: Final[Mapping[OsFamily, str]] = {
    "linux": "exact-values,chunks,hostname,admin,ipv4,dns-suffix,ansible,nonce",
    "windows": "exact-values,chunks,hostname,admin,ipv4,dns-suffix,domain-join,join-outcome,nonce",
}
_SUPPORTED: Final[Mapping[OsFamily, frozenset[str]]] = {
    "linux": frozenset(
        {
            "guest_host_name",
            "guest_la_uid",
            "guest_la_pw",
            "guest_v4_ip_addr",
            "guest_v4_cidr_prefix",
            "guest_v4_default_gw",
            "guest_v4_dns1",
            "guest_v4_dns2",
            "guest_net_dns_suffix",
            "ansible_ssh_user",
            "ansible_ssh_key",
        }
    ),
    "windows": frozenset(
        {
            "guest_host_name",
            "guest_la_uid",
            "guest_la_pw",
            "guest_v4_ip_addr",
            "guest_v4_cidr_prefix",
            "guest_v4_default_gw",
            "guest_v4_dns1",
            "guest_v4_dns2",
            "guest_net_dns_suffix",
            "guest_domain_join_target",
            "guest_domain_join_uid",
            "guest_domain_join_pw",
            "guest_domain_join_ou",
        }
    ),
}
_NONCE: Final = re.compile(r"[A-Za-z0-9_-]{16,128}")
_LINUX_DATA_KEY: Final = re.compile(r"hlvmm\.data\.[a-z0-9_]+")


def agent_mark(os_family: OsFamily, public_key_b64: str, nonce: str | None, *, network: str = "netplan") -> str:
    """The capability mark the agent publishes with ``public_key_b64`` (the nonce only when it looks like one)."""
    mark = f"aetherv-{os_family}/{AGENT_VERSION};caps={_CAPS[os_family]}"
    if os_family == "linux":
        mark += f";net={network}"
    if nonce is not None and _NONCE.fullmatch(nonce):
        mark += f";nonce={nonce}"
    return mark + ";key=" + hashlib.sha256(public_key_b64.encode("utf-8")).hexdigest()


def unsupported_key(os_family: OsFamily, names: list[str]) -> str | None:
    """The first data key (short name) the agent does not apply, if any."""
    for name in names:
        short = name[len(DATA_PREFIX) :]
        if short not in _SUPPORTED[os_family]:
            return short
    return None


@dataclass(frozen=True)
class ExactReader:
    """How this project's ``os_family`` agent reads and decrypts the host pool."""

    os_family: OsFamily

    def read(self, host: Mapping[str, str], name: str) -> str | None:
        """A meta item, read bare (the agents never chunk-read meta items)."""
        return host.get(name)

    def unwrap_aes_key(self, host: Mapping[str, str], private_key: rsa.RSAPrivateKey | None) -> bytes:
        """The shared AES key (PKCS#1 v1.5); anything but 32 bytes fails the run."""
        return unwrap_shared_key(host.get(SHARED_AES_KEY), private_key)

    def data_names(self, host: Mapping[str, str]) -> list[str]:
        """Bare data names and the base names of chunks, in ordinal order."""
        names: set[str] = set()
        for name in host:
            if not name.startswith(DATA_PREFIX):
                continue
            base = name[: name.rindex("._")] if CHUNK_SUFFIX.search(name) else name
            if self.os_family == "linux" and not _LINUX_DATA_KEY.fullmatch(base):
                raise AgentFailureError("error reading:provisioning_data")
            names.add(base)
        return sorted(names)

    def read_data(
        self, host: Mapping[str, str], aes_key: bytes, summary: str = "error reading:provisioning_data"
    ) -> dict[str, bytes]:
        """Decrypt every data value (chunks concatenated as bytes); any undecryptable value fails the run."""
        names = self.data_names(host)
        if not names:
            raise AgentFailureError(summary)
        values: dict[str, bytes] = {}
        for name in names:
            pieces = self._pieces(host, name)
            if not pieces:
                continue
            plain = b"".join(_decrypt(piece, aes_key) for piece in pieces)
            if self.os_family == "windows":
                try:
                    plain.decode("utf-8", "strict")
                except UnicodeDecodeError:
                    raise AgentFailureError("error decrypting:provisioning_data") from None
            elif b"\x00" in plain:
                raise AgentFailureError("error decrypting:provisioning_data")
            values[name] = plain
        return values

    def _pieces(self, host: Mapping[str, str], name: str) -> list[str]:
        if host.get(name):
            return [host[name]]
        pieces: list[str] = []
        for index in range(MAX_CHUNKS):
            piece = host.get(f"{name}._{index}")
            if not piece:
                break
            pieces.append(piece)
        return pieces

    def checksum_matches(self, values: Mapping[str, bytes], host: Mapping[str, str]) -> bool:
        """SHA-256 over the non-blank values in ordinal key order joined with ``|``, compared exactly."""
        kept = [values[name] for name in sorted(values) if values[name].decode("utf-8", "replace").strip()]
        computed = base64.b64encode(hashlib.sha256(b"|".join(kept)).digest()).decode("ascii")
        published = "".join((host.get(CHECKSUM) or "").split())
        return bool(published) and computed == published

    def normalise_version(self, version: str) -> str:
        """A version as the agents compare it: NULs removed, surrounding whitespace trimmed."""
        return version.replace("\x00", "").strip()


def _decrypt(piece: str, aes_key: bytes) -> bytes:
    summary = "error decrypting:provisioning_data"
    try:
        blob = base64.b64decode("".join(piece.split()), validate=True)
    except (ValueError, binascii.Error):
        raise AgentFailureError(summary) from None
    if len(blob) < 32 or (len(blob) - 16) % 16:
        raise AgentFailureError(summary)
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(blob[:16])).decryptor()
    padded = decryptor.update(blob[16:]) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise AgentFailureError(summary)
    return padded[:-pad]


def run_exact_module(
    module: str, os_family: OsFamily, values: Mapping[str, str], config: AppliedConfig
) -> AppliedConfig:
    """What ``module`` of this project's agent applies; a value it cannot apply fails the module."""

    def get(key: str) -> str:
        return values.get(DATA_PREFIX + key, "")

    def fail() -> AgentFailureError:
        return AgentFailureError(f"error applying:{module}")

    if module == "mod_general":
        user, password = get("guest_la_uid"), get("guest_la_pw")
        if bool(user) != bool(password) or (os_family == "linux" and "\n" in password):
            raise fail()  # both or neither; chpasswd reads lines
        return replace(
            config,
            hostname=get("guest_host_name") or None,
            admin_user=user or None,
            admin_password=password or None,
        )
    if module == "mod_net":
        address, prefix, gateway = get("guest_v4_ip_addr"), get("guest_v4_cidr_prefix"), get("guest_v4_default_gw")
        suffix = get("guest_net_dns_suffix")
        dns = tuple(dict.fromkeys(server for server in (get("guest_v4_dns1"), get("guest_v4_dns2")) if server))
        if not (address or prefix or gateway or suffix or dns):
            return config
        if not (address and prefix and gateway):
            raise fail()
        interface = "eth0" if os_family == "linux" else None
        return replace(config, ipv4=StaticIPv4(interface, address, prefix, gateway, dns, suffix or None))
    if module == "mod_domain":
        target = get("guest_domain_join_target")
        if not target:
            return config
        user, password, ou = get("guest_domain_join_uid"), get("guest_domain_join_pw"), get("guest_domain_join_ou")
        if not (user and password and ou):
            raise fail()
        return replace(config, domain=DomainJoin(target, ou, user, password))
    # mod_ansible
    user, ssh_key = get("ansible_ssh_user"), get("ansible_ssh_key")
    if not (user or ssh_key):
        return config
    if not (user and ssh_key) or "\n" in ssh_key or "\r" in ssh_key:
        raise fail()
    return replace(config, ansible_user=user, ansible_ssh_key=ssh_key)
