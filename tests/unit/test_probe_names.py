"""Whether a certificate's names cover the name the transport checks (RFC 6125 §6.4, as urllib3 2 checks them)."""

from __future__ import annotations

import pytest

from functions.hyperv.probe import name_matches

DNS = ["hv01.corp.example", "*.hyperv.corp.example", "localhost"]
IPS = ["127.0.0.1", "2001:db8::10"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hv01.corp.example", True),
        ("HV01.Corp.Example", True),  # DNS names compare case-insensitively
        ("hv01.corp.example.", True),  # an absolute name is the same name
        ("hv01", False),  # a short name is not the certificate's full name
        ("hv02.hyperv.corp.example", True),  # a wildcard stands for exactly one left-most label
        ("a.b.hyperv.corp.example", False),
        ("hyperv.corp.example", False),
        ("127.0.0.1", True),  # IP addresses match IP entries only
        ("127.0.0.2", False),
        ("2001:db8:0::10", True),  # compared as addresses, not as text
        ("localhost", True),
    ],
)
def test_names_and_addresses(name: str, expected: bool) -> None:
    assert name_matches(name, DNS, IPS) is expected


def test_an_ip_address_written_as_a_dns_entry_does_not_count() -> None:
    assert not name_matches("10.0.0.5", ["10.0.0.5"], [])


def test_a_wildcard_needs_a_registered_domain_below_it() -> None:
    assert not name_matches("hv01.example", ["*.example"], [])
    assert name_matches("hv01.corp.example", ["*.corp.example"], [])
