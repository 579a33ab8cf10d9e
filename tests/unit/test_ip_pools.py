"""IP pool documents: every rule named at once, the allocation order and usage, and the create request's pool form."""

from __future__ import annotations

from typing import Any

import pytest

from functions.models.ip_pools import IpPoolSpec, parse_pool
from functions.models.problems import RequestValidationError
from functions.models.vm_request import parse_vm_request


def pool(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "network": "External",
        "vlan_id": 120,
        "prefix_length": 24,
        "gateway": "10.0.120.1",
        "dns_servers": ["10.0.0.2"],
        "dns_suffix": "corp.example",
        "ranges": [{"start": "10.0.120.50", "end": "10.0.120.199"}],
        "reserved": ["10.0.120.60"],
    }
    document.update(changes)
    return document


def problems(name: str, document: Any, others: dict[str, IpPoolSpec] | None = None) -> dict[str, str]:
    with pytest.raises(RequestValidationError) as caught:
        parse_pool(name, document, others or {})
    return {p.field: p.code for p in caught.value.problems}


def test_the_issue_example_is_valid_and_counts_its_usage() -> None:
    spec = parse_pool("prod-120", pool())
    assert str(spec.subnet) == "10.0.120.0/24"
    assert spec.total() == 149  # 150 addresses, one reserved
    assert list(spec.candidates())[:11] == [f"10.0.120.{n}" for n in (*range(50, 60), 61)]
    assert spec.holds("10.0.120.199") and not spec.holds("10.0.120.60") and not spec.holds("10.0.120.200")


def test_every_problem_is_named_at_once() -> None:
    found = problems(
        "Bad_Name",
        pool(
            ranges=[
                {"start": "10.0.121.5", "end": "10.0.121.9"},  # outside the subnet
                {"start": "10.0.120.90", "end": "10.0.120.80"},  # start after end
                {"start": "10.0.120.1", "end": "10.0.120.20"},  # holds the gateway
                {"start": "10.0.120.100", "end": "10.0.120.150"},
                {"start": "10.0.120.140", "end": "10.0.120.160"},  # overlaps the one before
            ],
            reserved=["10.0.122.1"],
            dns_servers=["not-an-ip"],
        ),
    )
    assert found == {
        "pool": "invalid_name",
        "dns_servers[0]": "value_error",
        "ranges[0].start": "invalid",
        "ranges[0].end": "invalid",
        "ranges[1]": "range_reversed",
        "ranges[2]": "gateway_in_range",
        "ranges[4]": "range_overlap",
        "reserved[0]": "invalid",
    }


def test_field_problems_and_missing_fields() -> None:
    found = problems("p", {"network": "External", "prefix_length": 31, "extra": 1})
    assert found == {
        "prefix_length": "less_than_equal",
        "gateway": "missing",
        "dns_servers": "missing",
        "ranges": "missing",
        "extra": "extra_forbidden",
    }


def test_overlap_with_another_pool_on_the_same_network_and_vlan_only() -> None:
    other = parse_pool("other", pool(ranges=[{"start": "10.0.120.190", "end": "10.0.120.220"}]))
    assert problems("p", pool(), {"other": other}) == {"ranges[0]": "pool_overlap"}
    parse_pool("p", pool(vlan_id=121), {"other": other})  # another VLAN: no overlap
    parse_pool("p", pool(network="Internal"), {"other": other})  # another switch: no overlap
    parse_pool("other", pool(), {"other": other})  # a pool replacing itself does not overlap itself


def test_gateway_on_the_network_address_is_refused() -> None:
    assert problems("p", pool(gateway="10.0.120.0")) == {"gateway": "invalid"}


def test_a_create_may_name_a_pool_instead_of_an_address() -> None:
    base = {
        "name": "web01",
        "image": "Ubuntu 24.04 LTS",
        "cpu_cores": 1,
        "memory_gb": 1,
        "guest": {"admin_username": "admin", "admin_password": "Passw0rd!x", "ipv4": {"pool": "prod-120"}},
    }
    request = parse_vm_request(base)
    assert request.guest is not None and request.guest.ipv4 is not None and request.guest.ipv4.pool == "prod-120"
    mixed = {**base, "guest": {**base["guest"], "ipv4": {"pool": "prod-120", "address": "10.0.120.5"}}}
    with pytest.raises(RequestValidationError) as caught:
        parse_vm_request(mixed)
    assert [(p.field, p.code) for p in caught.value.problems] == [("guest.ipv4.address", "pool_conflict")]
    partial = {**base, "guest": {**base["guest"], "ipv4": {"address": "10.0.120.5", "prefix_length": 24}}}
    with pytest.raises(RequestValidationError) as caught:
        parse_vm_request(partial)
    assert {p.field for p in caught.value.problems} == {"guest.ipv4.gateway", "guest.ipv4.dns_servers"}
