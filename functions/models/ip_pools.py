"""IP address pools: the pool document a PUT sends, its rules, and the address arithmetic (order, usage).

A pool is a subnet (``gateway``/``prefix_length``) on one virtual switch (``network``) and VLAN, with address
ranges to hand out, addresses inside the subnet that are never handed out (``reserved``), and the DNS values a
guest gets with an address. Field-level rules live on the fields; rules that span fields or pools are in
:func:`pool_problems`, so :func:`parse_pool` names every problem at once (like the VM request). The model is
frozen and forbids unknown fields; a later property is one more optional field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

from functions.models.problems import Problem, RequestValidationError, problems_from_pydantic
from functions.models.vm_request import Ipv4, library_name

__all__ = [
    "POOL_NAME",
    "AddressRange",
    "IpPoolSpec",
    "parse_pool",
    "pool_name_problems",
    "pool_problems",
]

POOL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
"""Pool names: 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."""


def _dns_suffix(value: str) -> str:
    labels = value.split(".")
    label = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
    if len(value) > 253 or not all(label.fullmatch(part) for part in labels) or labels[-1].isdigit():
        raise ValueError("must be a valid DNS name (labels of letters, digits and hyphens separated by dots)")
    return value


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not list the same address twice")
    return values


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class AddressRange(_Model):
    """An inclusive range of addresses the pool hands out."""

    start: Ipv4 = Field(description="First address of the range.", examples=["10.0.120.50"])
    end: Ipv4 = Field(description="Last address of the range (inclusive).", examples=["10.0.120.199"])

    def addresses(self) -> Iterator[ipaddress.IPv4Address]:
        """Every address of the range, in order."""
        first, last = int(ipaddress.IPv4Address(self.start)), int(ipaddress.IPv4Address(self.end))
        for value in range(first, last + 1):
            yield ipaddress.IPv4Address(value)


class IpPoolSpec(_Model):
    """The pool document of ``PUT /api/v1/ip-pools/{pool}`` (and of the pool views, with usage added)."""

    network: Annotated[str, AfterValidator(library_name)] = Field(
        min_length=1, max_length=100, description="The virtual switch VMs with this pool's addresses attach to."
    )
    vlan_id: StrictInt | None = Field(default=None, ge=1, le=4094, description="Access VLAN; omit for untagged.")
    prefix_length: StrictInt = Field(ge=1, le=30, description="Subnet prefix length (1-30).", examples=[24])
    gateway: Ipv4 = Field(description="Default gateway; with prefix_length it defines the subnet.")
    dns_servers: Annotated[list[Ipv4], AfterValidator(_distinct)] = Field(
        min_length=1, max_length=2, description="One or two DNS servers.", examples=[["10.0.0.2"]]
    )
    dns_suffix: Annotated[str, AfterValidator(_dns_suffix)] | None = Field(
        default=None, description="DNS search suffix given to guests.", examples=["corp.example"]
    )
    ranges: list[AddressRange] = Field(min_length=1, max_length=64, description="Address ranges to hand out.")
    reserved: Annotated[list[Ipv4], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=1024, description="Addresses inside the subnet that are never handed out."
    )
    requires_approval: StrictBool = Field(
        default=False, description="Creates taking an address from this pool wait for an Admin's approval."
    )

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        """The subnet (from the gateway and the prefix length)."""
        return ipaddress.IPv4Network(f"{self.gateway}/{self.prefix_length}", strict=False)

    def _excluded(self) -> set[ipaddress.IPv4Address]:
        subnet = self.subnet
        return {
            ipaddress.IPv4Address(self.gateway),
            subnet.network_address,
            subnet.broadcast_address,
            *(ipaddress.IPv4Address(a) for a in self.reserved),
        }

    def candidates(self) -> Iterator[str]:
        """Every address the pool can hand out, in allocation order (ranges by start, then ascending)."""
        excluded = self._excluded()
        seen: set[ipaddress.IPv4Address] = set()
        for span in sorted(self.ranges, key=lambda r: int(ipaddress.IPv4Address(r.start))):
            for address in span.addresses():
                if address not in excluded and address not in seen:
                    seen.add(address)
                    yield str(address)

    def holds(self, address: str) -> bool:
        """Whether ``address`` is one the pool can hand out (in a range, not reserved, not the gateway)."""
        value = ipaddress.IPv4Address(address)
        if value in self._excluded():
            return False
        return any(
            int(ipaddress.IPv4Address(r.start)) <= int(value) <= int(ipaddress.IPv4Address(r.end)) for r in self.ranges
        )

    def total(self) -> int:
        """How many addresses the pool can hand out."""
        excluded = self._excluded()
        spans: list[tuple[int, int]] = []
        for span in sorted(self.ranges, key=lambda r: int(ipaddress.IPv4Address(r.start))):
            first, last = int(ipaddress.IPv4Address(span.start)), int(ipaddress.IPv4Address(span.end))
            if spans and first <= spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], max(spans[-1][1], last))
            elif first <= last:
                spans.append((first, last))
        count = sum(last - first + 1 for first, last in spans)
        return count - sum(1 for a in excluded if any(f <= int(a) <= last for f, last in spans))


def pool_name_problems(name: str) -> list[Problem]:
    """The pool name's problem, if it breaks :data:`POOL_NAME`."""
    if POOL_NAME.fullmatch(name):
        return []
    message = "must be 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen"
    return [Problem("pool", message, "invalid_name")]


def _range_bounds(data: Mapping[str, Any]) -> list[tuple[int, int, int] | None]:
    """``(index, first, last)`` of each range whose two ends are addresses (``None`` for the others)."""
    bounds: list[tuple[int, int, int] | None] = []
    ranges = data.get("ranges")
    for index, span in enumerate(ranges if isinstance(ranges, list) else []):
        try:
            first = int(ipaddress.IPv4Address(span["start"]))
            last = int(ipaddress.IPv4Address(span["end"]))
        except (ValueError, TypeError, KeyError):
            bounds.append(None)
            continue
        bounds.append((index, first, last))
    return bounds


def pool_problems(name: str, data: Mapping[str, Any], others: Mapping[str, IpPoolSpec] = {}) -> list[Problem]:
    """Every cross-field rule ``data`` (raw or validated) breaks, and every overlap with ``others`` (other pools).

    Tolerant of invalid fields: their field-level problems are reported by the model.
    """
    problems = pool_name_problems(name)
    try:
        prefix = data.get("prefix_length")
        if not isinstance(prefix, int) or isinstance(prefix, bool) or not 1 <= prefix <= 30:
            raise ValueError
        gateway = ipaddress.IPv4Address(data.get("gateway"))
        subnet = ipaddress.IPv4Network(f"{gateway}/{prefix}", strict=False)
    except (ValueError, TypeError):
        return problems
    edges = {int(subnet.network_address), int(subnet.broadcast_address)}
    if int(gateway) in edges:
        problems.append(Problem("gateway", f"must not be the network or broadcast address of {subnet}"))
    first_host, last_host = int(subnet.network_address) + 1, int(subnet.broadcast_address) - 1
    valid: list[tuple[int, int, int]] = []
    for entry in _range_bounds(data):
        if entry is None:
            continue
        index, first, last = entry
        field = f"ranges[{index}]"
        ok = True
        for end, value in (("start", first), ("end", last)):
            if not first_host <= value <= last_host:
                problems.append(Problem(f"{field}.{end}", f"must be a host address inside the subnet {subnet}"))
                ok = False
        if first > last:
            problems.append(Problem(field, "start must not be after end", "range_reversed"))
            ok = False
        elif first <= int(gateway) <= last:
            problems.append(Problem(field, "must not contain the gateway", "gateway_in_range"))
            ok = False
        if ok:
            valid.append(entry)
    for position, (index, first, last) in enumerate(valid):
        for other_index, other_first, other_last in valid[:position]:
            if first <= other_last and other_first <= last:
                problems.append(Problem(f"ranges[{index}]", f"overlaps ranges[{other_index}]", "range_overlap"))
    reserved = data.get("reserved")
    for index, address in enumerate(reserved if isinstance(reserved, list) else []):
        try:
            reserved_address = ipaddress.IPv4Address(address)
        except (ValueError, TypeError):
            continue
        if reserved_address not in subnet:
            problems.append(Problem(f"reserved[{index}]", f"must be inside the subnet {subnet}"))
    network, vlan = data.get("network"), data.get("vlan_id")
    if isinstance(network, str):
        for other_name, other in sorted(others.items()):
            if other_name == name or other.network.lower() != network.lower() or other.vlan_id != vlan:
                continue
            spans = [(int(ipaddress.IPv4Address(r.start)), int(ipaddress.IPv4Address(r.end))) for r in other.ranges]
            for index, first, last in valid:
                if any(first <= b and a <= last for a, b in spans):
                    problems.append(
                        Problem(
                            f"ranges[{index}]",
                            f"overlaps pool {other_name} on the same network and VLAN",
                            "pool_overlap",
                        )
                    )
    return problems


def parse_pool(name: str, payload: Any, others: Mapping[str, IpPoolSpec] = {}) -> IpPoolSpec:
    """Validate a pool document (and its name) against the rules and the other pools; every problem at once."""
    field_problems: list[Problem] = []
    spec: IpPoolSpec | None = None
    try:
        spec = IpPoolSpec.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        field_problems = problems_from_pydantic(errors)
    rules = pool_problems(name, payload, others) if isinstance(payload, Mapping) else pool_name_problems(name)
    reported = {p.field for p in field_problems}
    merged: Sequence[Problem] = field_problems + [p for p in rules if p.field not in reported]
    if merged or spec is None:
        raise RequestValidationError(merged or [Problem("", "must be a JSON object")])
    return spec
