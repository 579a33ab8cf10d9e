"""The simulated provisioning agent of one VM: a state machine driven by ticks, replaying the polls it missed.

A :class:`SimulatedGuest` reads the host pool, writes the guest pool and records what its modules configured in
:attr:`SimulatedGuest.applied`. Between two ticks it assumes the host pool did not change, which lets it replay
every poll it would have made since the previous tick; time comes from the injected clock.

It plays one of two agent generations (``GuestBehaviour.agent``): ``upstream`` (the Aether-V 2.4 agents with
their defects, :mod:`tools.hvsim.guest.reading` and :mod:`~tools.hvsim.guest.modules`) or ``aetherv`` (this
project's agents, :mod:`tools.hvsim.guest.aetherv`: capability mark, exact values, and on Windows a
verification run after the reboot before ``provisioningapplied``).
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import replace
from enum import Enum

from cryptography.hazmat.primitives.asymmetric import rsa

from tools.hvsim.guest.aetherv import ExactReader, agent_mark, run_exact_module, unsupported_key
from tools.hvsim.guest.config import (
    AGENT_MARK,
    APPLIED,
    APPLYING,
    DATA_PUBLISHED,
    FAILED,
    GUEST_ERROR,
    GUEST_STATE,
    HOST_NONCE,
    HOST_STATE,
    LINUX_MODULES,
    MAX_SUMMARY,
    PUBLIC_KEY,
    VERSION,
    WAITING_FOR_AES_KEY,
    WAITING_FOR_PUBLIC_KEY,
    WINDOWS_MODULES,
    AgentFailureError,
    AppliedConfig,
    GuestBehaviour,
    OsFamily,
)
from tools.hvsim.guest.keys import export_public_key, pooled_key
from tools.hvsim.guest.modules import run_module
from tools.hvsim.guest.reading import PoolReader

__all__ = ["STALE_NONCE", "SimulatedGuest"]

WINDOWS_WAIT_SECONDS = 3600.0
"""The project's Windows agent gives up waiting for a host state after this long (its ``-WaitSeconds``)."""
STALE_NONCE = "earlier-run-nonce-0000000000000000"
"""The nonce a capability mark left in a golden image echoes (never this run's)."""


class _Phase(Enum):
    BOOTING = "booting"
    WAITING_FOR_HOST_SIGNAL = "waiting_for_host_signal"
    WAITING_FOR_DATA = "waiting_for_data"
    CHECKSUM_RETRY = "checksum_retry"
    REBOOTING = "rebooting"
    VERIFYING = "verifying"
    STOPPED = "stopped"
    APPLIED = "applied"
    FAILED = "failed"


class SimulatedGuest:
    """The provisioning agent of one simulated VM; build a new one for each boot with a provisioning ISO.

    Boot starts when the object is constructed; the agent starts ``behaviour.boot_delay`` seconds later, when the
    guest's KVP daemon runs (items an earlier run left in the guest pool appear then too).
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
        self._exact = self.behaviour.exact
        self._reader: PoolReader | ExactReader = ExactReader(os_family) if self._exact else PoolReader(os_family)
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
        self._stale_written = False
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
        """True once the agent reboots the guest (after ``provisioningapplied``; the Windows ``aetherv`` agent
        before it, to verify): the host model cycles the VM, then calls :meth:`rebooted`."""
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

    @property
    def boot_delay(self) -> float:
        """Seconds from the start of the boot until the KVP daemon and the agent run."""
        return self.behaviour.boot_delay

    @property
    def flavour(self) -> str:
        """``aetherv`` (this project's agent) or ``upstream`` (Aether-V 2.4 / HLVMM, defects included)."""
        return "aetherv" if self._exact else "upstream"

    def rebooted(self) -> None:
        """Tell the guest its reboot finished (phase two ran: cleanup, the Windows join retry or verification)."""
        with self._lock:
            if not self.reboot_requested:
                return
            self.reboot_requested = False
            self.reboots += 1
            now = self._clock()
            self.events.append((now, "rebooted"))
            if self._phase is _Phase.REBOOTING:
                self._phase = _Phase.VERIFYING
                self._agent_start = now + self.behaviour.boot_delay

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
            if not self._stale_written and now >= self._agent_start:
                self._stale_written = True  # the golden image's pool shows once the KVP daemon runs
                if self.behaviour.stale_guest_pool:
                    self._write_stale_items(guest_pool)
            if self.behaviour.silent:
                return
            try:
                while self._step(now, host, guest_pool):
                    pass
            except AgentFailureError as failure:
                self._fail(failure.summary, guest_pool)

    def _step(self, now: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> bool:
        if self._phase is _Phase.BOOTING:
            if now < self._agent_start:
                return False
            self._start_agent(guest)
            return True
        if self._phase is _Phase.WAITING_FOR_HOST_SIGNAL:
            timeout = self._wait_limit(self.behaviour.linux_host_signal_timeout)
            summary = "error waiting:host_signal"
            at = self._poll(
                now, timeout, summary, lambda: self._reader.read(host, HOST_STATE) == WAITING_FOR_PUBLIC_KEY
            )
            if at is None:
                return False
            self._on_host_signal(at, host, guest)
            return True
        if self._phase is _Phase.WAITING_FOR_DATA:
            timeout = self._wait_limit(self.behaviour.linux_data_timeout)
            summary = "error waiting:provisioning_data"
            at = self._poll(now, timeout, summary, lambda: self._reader.read(host, HOST_STATE) == DATA_PUBLISHED)
            if at is None:
                return False
            self._on_data_published(at, host, guest)
            return True
        if self._phase is _Phase.CHECKSUM_RETRY:
            if now < self._retry_at:
                return False
            self._on_checksum_retry(self._retry_at, host, guest)
            return True
        if self._phase is _Phase.VERIFYING:
            if now < self._agent_start:
                return False
            self._verify(guest)
            return True
        return False

    def _wait_limit(self, linux_limit: float) -> float | None:
        """How long the agent waits for a host state: Linux as configured, Windows forever (D5) or 3600 s."""
        if self.os_family == "linux":
            return linux_limit
        return WINDOWS_WAIT_SECONDS if self._exact else None

    def _poll(self, now: float, timeout: float | None, summary: str, condition: Callable[[], bool]) -> float | None:
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
                raise AgentFailureError(summary)
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
        if self.os_family == "windows" and not self._exact:
            self.ejected_cd = True
            self._log("ejected CD-ROM drives")
        elif self.behaviour.missing_kvp_daemon:
            self._log("no KVP daemon running")
            raise AgentFailureError("error initializing:kvp_daemon")
        self._begin_wait(_Phase.WAITING_FOR_HOST_SIGNAL, at)

    def _on_host_signal(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        self._log("host signalled waitingforpublickey")
        expected = self._reader.normalise_version(self.iso_version)
        if not expected:
            # The upstream Linux agent reads its version file while its summary still names the host-signal wait.
            upstream_linux = self.os_family == "linux" and not self._exact
            raise AgentFailureError("error waiting:host_signal" if upstream_linux else "error validating:manifest")
        manifest = self._reader.read(host, VERSION)
        if not manifest or self._reader.normalise_version(manifest) != expected:
            self._log("version mismatch")
            raise AgentFailureError("error validating:manifest")

        self._private_key = self._injected_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        published = export_public_key(self._private_key.public_key(), self.os_family)
        if self.behaviour.corrupt_public_key:
            published = base64.b64encode(base64.b64decode(published)[:100]).decode("ascii")
        self.public_key_b64 = published
        if self._exact:
            # Windows: error, key, mark, state; Linux: the same items in one atomic rewrite of the pool.
            guest[GUEST_ERROR] = ""
            guest[PUBLIC_KEY] = published
            guest[AGENT_MARK] = agent_mark(self.os_family, published, host.get(HOST_NONCE))
            self._log("published public key and capability mark")
            self._set_state(guest, WAITING_FOR_AES_KEY)
            self._begin_wait(_Phase.WAITING_FOR_DATA, at)
            return
        guest[PUBLIC_KEY] = published
        self._log("published public key")
        self._set_state(guest, WAITING_FOR_AES_KEY)
        if self.os_family == "linux" and not self.behaviour.hlvmm_era:
            guest[GUEST_ERROR] = ""
        if self.behaviour.hlvmm_era:
            self._phase = _Phase.STOPPED
            self._log("HLVMM-era agent: nothing more is signalled")
            return
        self._begin_wait(_Phase.WAITING_FOR_DATA, at)

    def _on_data_published(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        self._log("host signalled provisioningdatapublished")
        self._aes_key = self._reader.unwrap_aes_key(host, self._private_key)
        values = self._reader.read_data(host, self._aes_key)
        if self._reader.checksum_matches(values, host):
            self._apply(at, values, guest)
        elif self.os_family == "linux" or self._exact:
            self._log("checksum mismatch; retrying")
            self._phase = _Phase.CHECKSUM_RETRY
            self._retry_at = at + self.behaviour.linux_checksum_retry_delay
        else:
            self._log("checksum mismatch")
            raise AgentFailureError("error validating:checksum")

    def _on_checksum_retry(self, at: float, host: Mapping[str, str], guest: MutableMapping[str, str]) -> None:
        self._t = at
        values = self._reader.read_data(host, self._aes_key, summary="error validating:checksum")
        if not self._reader.checksum_matches(values, host):
            self._log("checksum mismatch after retry")
            raise AgentFailureError("error validating:checksum")
        self._apply(at, values, guest)

    def _apply(self, at: float, values: Mapping[str, bytes], guest: MutableMapping[str, str]) -> None:
        if self._exact:
            unsupported = unsupported_key(self.os_family, sorted(values))
            if unsupported is not None:
                raise AgentFailureError(f"error applying:unsupported {unsupported}")
        if self._exact and self.os_family == "linux":
            guest[GUEST_ERROR] = ""  # one rewrite with the state
        self._set_state(guest, APPLYING)
        if self.os_family == "linux" and not self._exact:
            guest[GUEST_ERROR] = ""
        text = {name: value.decode("utf-8", "replace") for name, value in values.items()}
        done: list[str] = []
        config = AppliedConfig()
        modules = WINDOWS_MODULES if self.os_family == "windows" else LINUX_MODULES
        for module in modules:
            if module == self.behaviour.fail_module:
                self.applied = config
                self._log(f"{module} failed")
                upstream_windows = self.os_family == "windows" and not self._exact
                raise AgentFailureError("error applying:modules" if upstream_windows else f"error applying:{module}")
            try:
                if self._exact:
                    config = run_exact_module(module, self.os_family, text, config)
                else:
                    config = run_module(module, self.os_family, text, config)
            except AgentFailureError:
                self.applied = config
                self._log(f"{module} failed")
                raise
            done.append(module)
            config = replace(config, modules=tuple(done))
            self._log(f"{module} completed")
        self.applied = config
        self.reboot_requested = True
        if self._exact and self.os_family == "windows":
            self._phase = _Phase.REBOOTING  # the state stays `applying` until the verification after the reboot
            self._log("applied; rebooting to verify")
            return
        self._set_state(guest, APPLIED, clear_error=True)
        self._phase = _Phase.APPLIED
        self._log("provisioning applied; rebooting")

    def _verify(self, guest: MutableMapping[str, str]) -> None:
        """The Windows ``aetherv`` agent's second run: verify what was applied, then report."""
        self._t = self._agent_start
        self._log("verification run started")
        item = self.behaviour.fail_verify
        if item is not None:
            raise AgentFailureError(f"error verifying:{item}")
        guest[GUEST_ERROR] = ""
        self._set_state(guest, APPLIED)
        self._phase = _Phase.APPLIED
        self._log("verified")

    # -- writing -------------------------------------------------------------------------------------------

    def _set_state(self, guest: MutableMapping[str, str], state: str, *, clear_error: bool = False) -> None:
        if clear_error and self.os_family == "linux":
            guest[GUEST_ERROR] = ""
        guest[GUEST_STATE] = state
        self.state = state
        self._log(f"state {state}")

    def _log(self, event: str) -> None:
        self.events.append((self._t, event))

    def _fail(self, summary: str, guest: MutableMapping[str, str]) -> None:
        summary = summary[:MAX_SUMMARY]
        guest[GUEST_ERROR] = summary
        self.error_summary = summary
        self._set_state(guest, FAILED)
        self._phase = _Phase.FAILED

    def _write_stale_items(self, guest: MutableMapping[str, str]) -> None:
        old_key = export_public_key(pooled_key(1_000_003).public_key(), self.os_family)
        guest[PUBLIC_KEY] = old_key
        if self._exact:  # a current agent's run left its mark too, echoing that run's nonce
            guest[AGENT_MARK] = agent_mark(self.os_family, old_key, STALE_NONCE)
        guest[GUEST_STATE] = self.behaviour.stale_guest_state
        if self.behaviour.stale_guest_error or self.os_family == "linux":
            guest[GUEST_ERROR] = self.behaviour.stale_guest_error
        self._log("guest pool holds items of an earlier run")
