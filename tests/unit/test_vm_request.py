"""The VM request model: README examples accepted, every rule enforced with the field named, secrets hidden."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.models import RequestValidationError, VmCreateRequest, os_family_from_image, parse_vm_request
from tests.conftest import ROOT

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@example"


def readme_example(name: str) -> dict[str, Any]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {name} -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert match, name
    document: dict[str, Any] = json.loads(match.group(1))
    return document


WINDOWS = readme_example("windows-static-domain")
LINUX = readme_example("linux-dhcp-ansible")


def problems(payload: Any) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as info:
        parse_vm_request(payload)
    return {p.field: p.message for p in info.value.problems}


def with_changes(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return data


def test_readme_examples_are_accepted() -> None:
    windows = parse_vm_request(WINDOWS)
    assert windows.resolved_os_family == "windows"
    assert windows.guest is not None and windows.guest.domain_join is not None
    assert windows.guest.ipv4 is not None and windows.guest.ipv4.dns_servers == ["10.0.0.2", "10.0.0.3"]
    linux = parse_vm_request(LINUX)
    assert linux.resolved_os_family == "linux"
    assert linux.guest is not None and linux.guest.ansible is not None and linux.guest.ipv4 is None


def test_secrets_are_hidden_in_repr_dump_and_errors() -> None:
    request = parse_vm_request(WINDOWS)
    secrets = ["Change-Me-2026!", "Join-Me-2026!"]
    dumped = json.dumps(request.model_dump(mode="json"))
    for secret in secrets:
        assert secret not in repr(request)
        assert secret not in dumped
    bad = with_changes(WINDOWS, "guest.admin_password", "x" * 101)
    bad = with_changes(bad, "guest.domain_join.password", "\nJoin-Me-2026!")
    with pytest.raises(RequestValidationError) as info:
        parse_vm_request(bad)
    text = str(info.value) + repr(info.value.problems)
    assert "x" * 101 not in text and "Join-Me-2026!" not in text


def test_ssh_key_trailing_newline_is_trimmed_and_kept_secret() -> None:
    request = parse_vm_request(with_changes(LINUX, "guest.ansible.ssh_public_key", SSH_KEY + "\r\n"))
    assert request.guest is not None and request.guest.ansible is not None
    assert request.guest.ansible.ssh_public_key.get_secret_value() == SSH_KEY
    assert "AAAAC3" not in repr(request)


@pytest.mark.parametrize(
    ("image", "family"),
    [
        ("Windows Server 2022 Datacenter", "windows"),
        ("Microsoft Windows 11 Enterprise", "windows"),
        ("windows-2019-core", "windows"),
        ("Ubuntu 24.04 LTS", "linux"),
        ("Red Hat Enterprise Linux 9", "linux"),
        ("RHEL9", "linux"),
        ("Rocky Linux 9", "linux"),
        ("AlmaLinux 9", "linux"),
        ("Oracle Linux 8", "linux"),
        ("Debian 12", "linux"),
        ("openSUSE Leap 15", "linux"),
        ("Fedora 40", "linux"),
        ("Research Appliance", None),
        ("Archlinux", None),
        ("WindowsXYZ", None),
        ("My Ubuntu 24.04", None),
        ("", None),
    ],
)
def test_os_family_prefix_rules(image: str, family: str | None) -> None:
    assert os_family_from_image(image) == family


def test_unknown_image_family_is_an_error_never_a_default() -> None:
    found = problems(with_changes(LINUX, "image", "Research Appliance"))
    assert "cannot be derived from the image name" in found["os_family"]
    explicit = parse_vm_request(with_changes(with_changes(LINUX, "image", "Research Appliance"), "os_family", "linux"))
    assert explicit.resolved_os_family == "linux"


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        ("name", "web 01", "name", "letters"),
        ("name", "web01;", "name", "letters"),
        ("name", "web$(whoami)", "name", "letters"),
        ("name", "`web`", "name", "letters"),
        ("name", "web'01", "name", "letters"),
        ("name", 'web"01', "name", "letters"),
        ("name", "web|01", "name", "letters"),
        ("name", "web\n01", "name", "letters"),
        ("name", "wеb01", "name", "letters"),  # Cyrillic 'е' look-alike
        ("name", "ｗeb01", "name", "letters"),  # full-width 'ｗ'
        ("name", "-web01", "name", "hyphen"),
        ("name", "web01-", "name", "hyphen"),
        ("name", "12345", "name", "all digits"),
        ("name", "", "name", "letters"),
        ("name", ..., "name", "required"),
        ("name", "a" * 64, "name", "letters"),
        ("cpu_cores", "2", "cpu_cores", "integer"),
        ("cpu_cores", 0, "cpu_cores", "greater than"),
        ("cpu_cores", True, "cpu_cores", "integer"),
        ("memory_gb", 4096, "memory_gb", "less than"),
        ("vlan_id", 0, "vlan_id", "greater than"),
        ("vlan_id", 4095, "vlan_id", "less than"),
        ("image", "..\\..\\Windows\\evil", "image", "not a path"),
        ("image", "", "image", "at least 1"),
        ("network", "Ext\nernal", "network", "control characters"),
        ("host", "hv01;rm", "host", "DNS name"),
        ("os_family", "macos", "os_family", "windows"),
        ("surprise", 1, "surprise", "not a known field"),
        ("guest.admin_username", "", "guest.admin_username", "at least 1"),
        ("guest.admin_password", "", "guest.admin_password", "at least 8"),
        ("guest.admin_password", ..., "guest.admin_password", "required"),
        ("guest.admin_password", "Pass\nword1!", "guest.admin_password", "control characters"),
        ("guest.admin_password", "Passw0rd!😀", "guest.admin_password", "Basic Multilingual Plane"),
        ("guest.ipv4.address", "10.0.0.256", "guest.ipv4.address", "dotted-quad"),
        ("guest.ipv4.address", "010.0.0.5", "guest.ipv4.address", "dotted-quad"),
        ("guest.ipv4.address", "127.0.0.5", "guest.ipv4.address", "unicast"),
        ("guest.ipv4.address", "224.0.0.5", "guest.ipv4.address", "unicast"),
        ("guest.ipv4.address", "0.0.0.0", "guest.ipv4.address", "unicast"),
        ("guest.ipv4.address", "10.0.0.0", "guest.ipv4.address", "network address"),
        ("guest.ipv4.address", "10.0.0.255", "guest.ipv4.address", "broadcast address"),
        ("guest.ipv4.address", "10.0.0.1", "guest.ipv4.gateway", "must differ"),
        ("guest.ipv4.gateway", "10.0.1.1", "guest.ipv4.gateway", "inside the subnet"),
        ("guest.ipv4.gateway", "10.0.0.255", "guest.ipv4.gateway", "network or broadcast"),
        ("guest.ipv4.prefix_length", 0, "guest.ipv4.prefix_length", "greater than"),
        ("guest.ipv4.prefix_length", 33, "guest.ipv4.prefix_length", "less than"),
        ("guest.ipv4.dns_servers", [], "guest.ipv4.dns_servers", "at least 1"),
        ("guest.ipv4.dns_servers", ["10.0.0.2"] * 2, "guest.ipv4.dns_servers", "same server"),
        ("guest.ipv4.dns_servers", ["10.0.0.2", "10.0.0.3", "10.0.0.4"], "guest.ipv4.dns_servers", "at most 2"),
        ("guest.ipv4.dns_suffix", "corp..example", "guest.ipv4.dns_suffix", "DNS name"),
        ("guest.domain_join.ou", ..., "guest.domain_join.ou", "required"),
        ("guest.domain_join.ou", "Servers", "guest.domain_join.ou", "distinguished name"),
        ("guest.domain_join.ou", "OU=Servers", "guest.domain_join.ou", "DC="),
        ("guest.domain_join.domain", "corp_example", "guest.domain_join.domain", "DNS name"),
        ("guest.domain_join.password", "", "guest.domain_join.password", "at least 1"),
    ],
)
def test_windows_request_rules(path: str, value: Any, field: str, fragment: str) -> None:
    found = problems(with_changes(WINDOWS, path, value))
    assert field in found, found
    assert fragment.lower() in found[field].lower()


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        ("name", "a" * 16, "name", "at most 15"),
        ("guest.admin_username", "ops;admin", "guest.admin_username", "Windows user name"),
        ("guest.admin_username", "a" * 21, "guest.admin_username", "Windows user name"),
        ("guest.admin_password", "alllowercase", "guest.admin_password", "3 of"),
        ("guest.admin_password", "Opsadmin-2026!", "guest.admin_password", "user name"),
        ("guest.admin_password", "Aa1!" + "x" * 97, "guest.admin_password", "at most 100"),
        ("guest.domain_join.ou", "OU=" + "x" * 90 + ",DC=corp,DC=example", "guest.domain_join.ou", "at most 100"),
        ("guest.ansible", {"ssh_user": "ansible", "ssh_public_key": SSH_KEY}, "guest.ansible", "Linux guests only"),
    ],
)
def test_windows_only_limits(path: str, value: Any, field: str, fragment: str) -> None:
    found = problems(with_changes(WINDOWS, path, value))
    assert fragment in found[field]


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        ("name", "a" * 63, None, None),
        ("name", "a" * 16, None, None),
        ("guest.admin_password", "x" * 3000, None, None),
        ("guest.admin_password", "x" * 3001, "guest.admin_password", "at most 3000"),
        ("guest.admin_username", "OpsAdmin", "guest.admin_username", "Linux user name"),
        ("guest.ansible.ssh_user", "Ansible User", "guest.ansible.ssh_user", "Linux user name"),
        ("guest.ansible.ssh_public_key", "ssh-ed25519 notbase64!", "guest.ansible.ssh_public_key", "OpenSSH"),
        (
            "guest.ansible.ssh_public_key",
            "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            "guest.ansible.ssh_public_key",
            "does not match",
        ),
        ("guest.ansible.ssh_public_key", SSH_KEY + "\n" + SSH_KEY, "guest.ansible.ssh_public_key", "one OpenSSH"),
        ("guest.domain_join", WINDOWS["guest"]["domain_join"], "guest.domain_join", "Windows guests only"),
    ],
)
def test_linux_rules(path: str, value: Any, field: str | None, fragment: str | None) -> None:
    payload = with_changes(LINUX, path, value)
    if field is None:
        parse_vm_request(payload)
        return
    found = problems(payload)
    assert fragment is not None and fragment in found[field]


def test_blank_disk_rules() -> None:
    blank = {"name": "scratch01", "cpu_cores": 1, "memory_gb": 2, "disk_gb": 40, "os_family": "linux"}
    assert parse_vm_request(blank).image is None
    found = problems({"name": "scratch01", "cpu_cores": 1, "memory_gb": 2, "guest": LINUX["guest"]})
    assert "required" in found["os_family"]
    assert "required" in found["disk_gb"]
    assert "needs an image" in found["guest"]
    assert "required" in problems(with_changes(LINUX, "guest", ...))["guest"]
    assert "needs network" in problems(with_changes(LINUX, "vlan_id", 10) | {"network": None})["vlan_id"]


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    payload = with_changes(WINDOWS, "name", "a-very-long-windows-name")
    payload = with_changes(payload, "cpu_cores", "four")
    payload = with_changes(payload, "guest.ipv4.gateway", "192.168.1.1")
    payload = with_changes(payload, "guest.domain_join.ou", ...)
    payload = with_changes(payload, "guest.admin_password", "weakpassword")
    payload["guest"]["ansible"] = {"ssh_user": "ansible", "ssh_public_key": SSH_KEY}
    found = problems(payload)
    assert set(found) == {
        "name",
        "cpu_cores",
        "guest.ipv4.gateway",
        "guest.domain_join.ou",
        "guest.admin_password",
        "guest.ansible",
    }


def test_empty_string_is_not_the_same_as_missing() -> None:
    assert "required" in problems(with_changes(WINDOWS, "guest.domain_join.ou", ...))["guest.domain_join.ou"]
    assert "distinguished" in problems(with_changes(WINDOWS, "guest.domain_join.ou", ""))["guest.domain_join.ou"]
    assert "required" in problems(with_changes(WINDOWS, "name", ...))["name"]
    assert "DNS name" in problems(with_changes(WINDOWS, "host", ""))["host"]
    assert parse_vm_request(with_changes(WINDOWS, "host", None)).host is None


def test_non_object_payloads() -> None:
    for payload in (None, [], "web01", 5):
        with pytest.raises(RequestValidationError) as info:
            parse_vm_request(payload)
        assert info.value.problems


def test_direct_model_validation_enforces_the_rules_too() -> None:
    with pytest.raises(ValueError, match="Linux guests only"):
        VmCreateRequest.model_validate(with_changes(WINDOWS, "guest.ansible", LINUX["guest"]["ansible"]))


def test_json_schema_drives_the_form() -> None:
    schema = VmCreateRequest.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "cpu_cores", "memory_gb"}
    guest = schema["$defs"]["GuestConfig"]["properties"]
    assert guest["admin_password"]["format"] == "password"
    assert guest["admin_password"]["writeOnly"] is True


# -- property-based tests ------------------------------------------------------------------------------------

addresses = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)


def ipv4_payload(address: ipaddress.IPv4Address, prefix: int, gateway: ipaddress.IPv4Address) -> dict[str, Any]:
    return with_changes(
        LINUX,
        "guest.ipv4",
        {"address": str(address), "prefix_length": prefix, "gateway": str(gateway), "dns_servers": ["9.9.9.9"]},
    )


def usable(address: ipaddress.IPv4Address) -> bool:
    return not (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
        or address.is_reserved
        or str(address) == "255.255.255.255"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(address=addresses, prefix=st.integers(min_value=1, max_value=32), gateway=addresses)
def test_ipv4_rules_match_subnet_arithmetic(
    address: ipaddress.IPv4Address, prefix: int, gateway: ipaddress.IPv4Address
) -> None:
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    special = {network.network_address, network.broadcast_address} if prefix <= 30 else set()
    should_pass = (
        usable(address)
        and usable(gateway)
        and address not in special
        and gateway != address
        and gateway in network
        and gateway not in special
    )
    payload = ipv4_payload(address, prefix, gateway)
    if should_pass:
        request = parse_vm_request(payload)
        assert request.guest is not None and request.guest.ipv4 is not None
        assert ipaddress.IPv4Address(request.guest.ipv4.gateway) in network
    else:
        found = problems(payload)
        assert set(found) <= {"guest.ipv4.address", "guest.ipv4.gateway"}


@settings(max_examples=100, deadline=None)
@given(address=addresses, prefix=st.integers(min_value=1, max_value=30))
def test_a_valid_host_with_its_first_usable_gateway_is_accepted(address: ipaddress.IPv4Address, prefix: int) -> None:
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    hosts = [network.network_address + 1, network.broadcast_address - 1]
    guest_address, gateway = hosts[1], hosts[0]
    if guest_address == gateway or not (usable(guest_address) and usable(gateway)):
        return
    parse_vm_request(ipv4_payload(guest_address, prefix, gateway))


groups = st.fixed_dictionaries(
    {},
    optional={
        "ipv4": st.just(WINDOWS["guest"]["ipv4"]),
        "domain_join": st.just(WINDOWS["guest"]["domain_join"]),
        "ansible": st.just(LINUX["guest"]["ansible"]),
    },
)


@settings(max_examples=60, deadline=None)
@given(family=st.sampled_from(["windows", "linux"]), chosen=groups)
def test_group_rules_follow_the_os_family(family: str, chosen: dict[str, Any]) -> None:
    base = WINDOWS if family == "windows" else LINUX
    payload = copy.deepcopy(base)
    payload["guest"] = {"admin_username": "opsadmin", "admin_password": "Change-Me-2026!", **copy.deepcopy(chosen)}
    forbidden = "ansible" if family == "windows" else "domain_join"
    if forbidden in chosen:
        assert f"guest.{forbidden}" in problems(payload)
    else:
        request = parse_vm_request(payload)
        assert request.guest is not None
        assert (request.guest.ipv4 is None) == ("ipv4" not in chosen)


@pytest.mark.parametrize("name", ["web01\n", "0\n", "web01\r\n", "\nweb01"])
def test_a_name_with_a_line_break_is_refused(name: str) -> None:
    assert "name" in problems(with_changes(LINUX, "name", name))


@pytest.mark.parametrize("field", ["guest.admin_password", "guest.admin_username", "guest.ansible.ssh_user"])
def test_lone_surrogates_are_refused_not_stored(field: str) -> None:
    assert field in problems(with_changes(LINUX, field, "abc\ud800defgh"))


@settings(max_examples=100, deadline=None)
@given(value=st.text(min_size=0, max_size=40))
def test_arbitrary_names_never_crash_and_are_ascii_host_names_when_accepted(value: str) -> None:
    payload = with_changes(LINUX, "name", value)
    try:
        request = parse_vm_request(payload)
    except RequestValidationError as exc:
        assert {p.field for p in exc.problems} == {"name"}
        return
    assert re.fullmatch(r"[A-Za-z0-9-]{1,63}", request.name) and not request.name.isdigit()
