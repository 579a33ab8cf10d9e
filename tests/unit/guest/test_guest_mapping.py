"""Mapping the request model to guest data keys."""

from __future__ import annotations

import copy

from functions.guest.kvp import guest_compatibility_problems
from functions.guest.mapping import guest_values
from functions.models import parse_vm_request
from tests.unit.test_vm_request import LINUX, SSH_KEY, WINDOWS


def test_windows_static_ip_and_domain_join() -> None:
    values = guest_values(parse_vm_request(WINDOWS))
    assert values == {
        "guest_host_name": "app01",
        "guest_la_uid": "opsadmin",
        "guest_la_pw": "Change-Me-2026!",
        "guest_v4_ip_addr": "10.0.0.5",
        "guest_v4_cidr_prefix": "24",
        "guest_v4_default_gw": "10.0.0.1",
        "guest_v4_dns1": "10.0.0.2",
        "guest_v4_dns2": "10.0.0.3",
        "guest_net_dns_suffix": "corp.example",
        "guest_domain_join_target": "corp.example",
        "guest_domain_join_uid": "joiner",
        "guest_domain_join_pw": "Join-Me-2026!",
        "guest_domain_join_ou": "OU=Servers,DC=corp,DC=example",
    }
    assert guest_compatibility_problems(values, "windows") == {}


def test_windows_single_dns_server_is_doubled() -> None:
    payload = copy.deepcopy(WINDOWS)
    payload["guest"]["ipv4"]["dns_servers"] = ["10.0.0.2"]
    values = guest_values(parse_vm_request(payload))
    assert (values["guest_v4_dns1"], values["guest_v4_dns2"]) == ("10.0.0.2", "10.0.0.2")


def test_linux_dhcp_and_ansible() -> None:
    values = guest_values(parse_vm_request(LINUX))
    assert values == {
        "guest_host_name": "web01",
        "guest_la_uid": "opsadmin",
        "guest_la_pw": "correct horse battery staple",
        "ansible_ssh_user": "ansible",
        "ansible_ssh_key": SSH_KEY,
    }
    assert guest_compatibility_problems(values, "linux") == {}


def test_blank_disk_has_no_guest_values() -> None:
    request = parse_vm_request({"name": "scratch", "cpu_cores": 1, "memory_gb": 1, "disk_gb": 10, "os_family": "linux"})
    assert guest_values(request) == {}
