"""The simulated guest agent on its own: construction, key export, write order, secrecy, limits."""

from __future__ import annotations

import base64
from collections.abc import Iterator, MutableMapping
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from functions.guest import keys as host_keys
from functions.guest import names
from functions.guest.kvp import build_host_items
from tools.hvsim.guest import (
    AppliedConfig,
    DomainJoin,
    GuestBehaviour,
    SimulatedGuest,
    capi_public_key_blob,
    export_public_key,
    pooled_key,
)

from ._harness import VERSION, FakeClock, new_host


class RecordingPool(MutableMapping[str, str]):
    """A guest pool that records every write in order."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.writes: list[tuple[str, str]] = []

    def __getitem__(self, key: str) -> str:
        return self.data[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.writes.append((key.removeprefix("hlvmm.meta."), value))
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def drive(
    os_family: str, values: dict[str, str], behaviour: GuestBehaviour | None = None, agent: str = "upstream"
) -> RecordingPool:
    clock = FakeClock()
    behaviour = replace(behaviour or GuestBehaviour(), agent=agent)
    guest = SimulatedGuest(os_family, VERSION, behaviour=behaviour, clock=clock, key=pooled_key(0))  # type: ignore[arg-type]
    host: dict[str, str] = {}
    pool = RecordingPool()
    guest.tick(host, pool)
    host.update({names.VERSION_KEY: VERSION, names.HOST_STATE_KEY: "waitingforpublickey"})
    clock.advance(5)
    guest.tick(host, pool)
    host.update(build_host_items(pool.data[names.GUEST_PUBLIC_KEY_KEY], values))
    host[names.HOST_STATE_KEY] = "provisioningdatapublished"
    clock.advance(5)
    guest.tick(host, pool)
    return pool


def test_linux_write_order_with_empty_errors() -> None:
    pool = drive("linux", {"guest_host_name": "vm01"})
    assert [(k, v if k != "guest_provisioning_public_key" else "KEY") for k, v in pool.writes] == [
        ("guest_provisioning_public_key", "KEY"),
        ("guest_provisioning_system_state", "waitingforaeskey"),
        ("guest_provisioning_error", ""),
        ("guest_provisioning_system_state", "applying"),
        ("guest_provisioning_error", ""),
        ("guest_provisioning_error", ""),
        ("guest_provisioning_system_state", "provisioningapplied"),
    ]


def test_windows_write_order_never_writes_an_empty_error() -> None:
    pool = drive("windows", {"guest_host_name": "vm01"})
    assert [k for k, _ in pool.writes] == [
        "guest_provisioning_public_key",
        "guest_provisioning_system_state",
        "guest_provisioning_system_state",
        "guest_provisioning_system_state",
    ]
    assert [v for k, v in pool.writes if k == "guest_provisioning_system_state"] == [
        "waitingforaeskey",
        "applying",
        "provisioningapplied",
    ]


@pytest.mark.parametrize("os_family", ["windows", "linux"])
def test_failure_writes_the_error_before_the_state(os_family: str) -> None:
    pool = drive(os_family, {"guest_host_name": "vm01"}, GuestBehaviour(fail_module="mod_general"))
    assert pool.writes[-2][0] == "guest_provisioning_error"
    assert pool.writes[-1] == ("guest_provisioning_system_state", "provisioningfailed")


def test_error_summary_is_capped_at_200_characters() -> None:
    guest = SimulatedGuest("linux", VERSION, clock=FakeClock(), key=pooled_key(0))
    pool: dict[str, str] = {}
    guest._fail("error applying:" + "x" * 300, pool)  # the agents truncate whatever summary they publish
    assert len(pool[names.GUEST_ERROR_KEY]) == 200
    assert guest.error_summary == pool[names.GUEST_ERROR_KEY]


def test_windows_key_export_is_the_capi_layout() -> None:
    public = pooled_key(0).public_key()
    blob = capi_public_key_blob(public)
    assert blob[:20].hex(" ") == "06 02 00 00 00 a4 00 00 52 53 41 31 00 08 00 00 01 00 01 00"
    assert blob == host_keys.capi_public_key_blob(public)  # two independent builders agree
    assert len(export_public_key(public, "windows")) == 368
    assert host_keys.load_guest_public_key(export_public_key(public, "windows")).public_numbers() == (
        public.public_numbers()
    )


def test_linux_key_export_is_pkcs1_der() -> None:
    public = pooled_key(0).public_key()
    exported = export_public_key(public, "linux")
    assert len(exported) == 360
    assert base64.b64decode(exported)[:4].hex() == "3082010a"


def test_pooled_key_is_cached_per_slot() -> None:
    assert pooled_key(0) is pooled_key(0)
    assert pooled_key(0) is not pooled_key(1)


@pytest.mark.parametrize(
    ("os_family", "kwargs", "message"),
    [
        ("chromeos", {}, "os_family"),
        ("linux", {"behaviour": GuestBehaviour(fail_module="mod_domain")}, "fail_module"),
        ("windows", {"behaviour": GuestBehaviour(fail_module="mod_ansible")}, "fail_module"),
        ("linux", {"behaviour": GuestBehaviour(poll_interval=0)}, "poll_interval"),
        ("linux", {"key": rsa.generate_private_key(public_exponent=65537, key_size=1024)}, "RSA-2048"),
    ],
)
def test_constructor_validation(os_family: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatedGuest(os_family, VERSION, **kwargs)  # type: ignore[arg-type]


def test_reprs_and_events_hold_no_secrets() -> None:
    host = new_host("windows")
    host.run(
        {
            "guest_host_name": "vm01",
            "guest_la_uid": "admin",
            "guest_la_pw": "TopSecret-1",
            "guest_domain_join_target": "corp.example",
            "guest_domain_join_uid": "joiner",
            "guest_domain_join_pw": "TopSecret-2",
            "guest_domain_join_ou": "OU=x",
        }
    )
    applied = host.guest.applied
    assert applied is not None
    assert applied.admin_password == "TopSecret-1"
    text = repr(applied) + repr(host.guest) + repr(host.guest.events) + str(applied)
    assert "TopSecret" not in text
    assert "TopSecret" not in repr(DomainJoin("d", "ou", "u", "TopSecret-3"))
    assert "TopSecret" not in repr(AppliedConfig(admin_password="TopSecret-4"))


def test_windows_ignores_garbage_values_and_fails_the_checksum() -> None:
    host = new_host("windows")
    host.read_guest()
    host.signal_ready()
    host.wait(5.0)
    items = build_host_items(host.guest_pool[names.GUEST_PUBLIC_KEY_KEY], {"guest_host_name": "vm01"})
    items["hlvmm.data.guest_host_name"] = "!!not base64!!"
    host.publish(items)
    host.wait(5.0)
    assert host.guest_pool[names.GUEST_ERROR_KEY] == "error validating:checksum"


def test_linux_checksum_retry_delay_is_configurable() -> None:
    host = new_host("linux", behaviour=GuestBehaviour(linux_checksum_retry_delay=2.0, poll_interval=1.0))
    host.read_guest()
    host.signal_ready()
    host.wait(1.0)
    items = build_host_items(host.guest_pool[names.GUEST_PUBLIC_KEY_KEY], {"guest_host_name": "vm01"})
    host.publish({**items, names.CHECKSUM_KEY: "AAAA"}, pause=0.0)
    host.wait(1.0)
    assert host.guest.phase == "checksum_retry"
    host.wait(2.0)
    assert host.guest.phase == "failed"


def test_tiny_poll_interval_with_big_time_jumps_is_cheap() -> None:
    host = new_host("windows", behaviour=GuestBehaviour(poll_interval=0.001))
    host.read_guest()
    host.wait(1_000_000.0)  # a billion polls replayed arithmetically
    assert host.guest.phase == "waiting_for_host_signal"
    assert host.run({"guest_host_name": "vm01"}).result == "applied"


def test_linux_empty_iso_version_fails_while_waiting_for_the_host_signal() -> None:
    host = new_host("linux", iso_version=" \n")
    assert host.run({"guest_host_name": "vm01"}).status.error_summary == "error waiting:host_signal"
    host = new_host("windows", iso_version="")
    assert host.run({"guest_host_name": "vm01"}).status.error_summary == "error validating:manifest"
