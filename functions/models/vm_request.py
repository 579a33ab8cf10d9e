"""The VM create request: the single source of truth for API validation, the OpenAPI schema and the dashboard form.

One public JSON contract (see the README for full examples)::

    {"name": "web01", "host": "hv01", "image": "Ubuntu 24.04 LTS", "os_family": "linux",
     "cpu_cores": 2, "memory_gb": 4, "disk_gb": 64, "network": "External", "vlan_id": 120,
     "clustered": false, "keep_on_failure": false,
     "guest": {"admin_username": "...", "admin_password": "...", "ipv4": {...}, "domain_join": {...},
               "ansible": {...}}}

Optional groups (``ipv4``, ``domain_join``, ``ansible``) are nested objects, so "all or none" is structural.
Field-level rules live on the fields; rules that span fields (OS family, guest-protocol limits, subnet
arithmetic, Windows/Linux exclusions) live in :func:`rule_problems`, which works on raw, possibly invalid input
so that :func:`parse_vm_request` can report **every** problem at once with its field path. Secret fields are
``SecretStr``: never in ``repr``, logs, errors or responses.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import struct
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from functions.models.json import JsonObject
from functions.models.leases import LeaseRequest
from functions.models.problems import Problem, RequestValidationError, problems_from_pydantic

__all__ = [
    "LINUX_VALUE_LIMIT",
    "WINDOWS_VALUE_LIMIT",
    "AnsibleAccess",
    "DomainJoin",
    "GuestConfig",
    "Ipv4Config",
    "OsFamily",
    "VmCreateRequest",
    "library_name",
    "os_family_from_image",
    "parse_vm_request",
    "rule_problems",
]

OsFamily = Literal["windows", "linux"]

# Guest-protocol limits (guest-protocol.md §7, §17 D1): the Windows agent cannot reassemble chunked values,
# so every value must fit in one 100-character chunk; the Linux agent reassembles up to 30 chunks.
WINDOWS_VALUE_LIMIT = 100
LINUX_VALUE_LIMIT = 3000

_WINDOWS_IMAGE = re.compile(r"^(windows|microsoft windows)(?=$|[\s\-_.0-9])", re.IGNORECASE)
_LINUX_IMAGE = re.compile(
    r"^(ubuntu|red hat enterprise linux|rhel|centos|rocky linux|almalinux|oracle linux|debian|suse|opensuse|fedora)"
    r"(?=$|[\s\-_.0-9])",
    re.IGNORECASE,
)
_HOST_NAME = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_DNS_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LINUX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_WINDOWS_USER_FORBIDDEN = set('"/\\[]:;|=,+*?<>@')
_DN_PART = re.compile(r"^\s*(OU|CN|DC)\s*=\s*\S.*$", re.IGNORECASE)
_SSH_KEY = re.compile(r"^(?P<type>[a-z0-9@.\-]+) (?P<blob>[A-Za-z0-9+/]+={0,3})(?: [^\r\n]*)?$")
_SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


def os_family_from_image(image: str) -> OsFamily | None:
    """Derive the OS family from an image name by prefix (``Windows …`` / ``Ubuntu …`` …); ``None`` if unknown."""
    name = image.strip()
    if _WINDOWS_IMAGE.match(name):
        return "windows"
    if _LINUX_IMAGE.match(name):
        return "linux"
    return None


# -- field-level checks (raise ValueError with a message that never quotes the value) ------------------------


def _text(value: str) -> str:
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise ValueError("must not contain control characters (newlines, tabs, …)")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise ValueError("must not contain unpaired surrogates (text that is not valid Unicode)")
    if any(ord(ch) > 0xFFFF for ch in value):
        raise ValueError("must not contain characters outside the Basic Multilingual Plane (e.g. emoji)")
    return value


def _secret_text(value: SecretStr) -> SecretStr:
    _text(value.get_secret_value())
    return value


def _vm_name(value: str) -> str:
    if not _HOST_NAME.fullmatch(value):
        raise ValueError(
            "must be 1-63 letters (a-z, A-Z), digits and hyphens, not starting or ending with a hyphen "
            "(it becomes the guest's host name)"
        )
    if value.isdigit():
        raise ValueError("must not be all digits")
    return value


def _dns_name(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise ValueError("must be a valid DNS name (labels of letters, digits and hyphens separated by dots)")
    return value


def library_name(value: str) -> str:
    _text(value)
    if value != value.strip():
        raise ValueError("must not start or end with spaces")
    if any(ch in value for ch in '\\/:*?"<>|') or ".." in value:
        raise ValueError('must be a library name, not a path (no \\ / : * ? " < > | or ..)')
    return value


def _ipv4(value: str) -> str:
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError("must be an IPv4 address in dotted-quad form, e.g. 10.0.0.5") from None
    if (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
        or address.is_reserved
        or str(address) == "255.255.255.255"
    ):
        raise ValueError("must be a unicast address (not 0.0.0.0, loopback, link-local, multicast or reserved)")
    return str(address)


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not list the same server twice")
    return values


def _distinguished_name(value: str) -> str:
    parts = re.split(r"(?<!\\),", value)
    if not all(_DN_PART.fullmatch(part) for part in parts):
        raise ValueError("must be a distinguished name such as OU=Servers,DC=corp,DC=example")
    if not any(part.strip().upper().startswith("DC") for part in parts):
        raise ValueError("must include the domain components (DC=...)")
    return value


def _strip_ssh_key(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, SecretStr):
        return SecretStr(value.get_secret_value().strip())
    return value


def _ssh_public_key(value: SecretStr) -> SecretStr:
    match = _SSH_KEY.fullmatch(value.get_secret_value())
    if not match or match["type"] not in _SSH_KEY_TYPES:
        raise ValueError(
            "must be one OpenSSH public key line: '<type> <base64> [comment]' with type ssh-ed25519, ssh-rsa, "
            "ecdsa-sha2-nistp256/384/521 or a security-key type"
        )
    try:
        blob = base64.b64decode(match["blob"], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise ValueError("is not a valid OpenSSH public key (its base64 data is corrupt)") from None
    if embedded != match["type"]:
        raise ValueError("is not a valid OpenSSH public key (key data does not match its type)")
    return value


Text = Annotated[str, AfterValidator(_text)]
SecretText = Annotated[SecretStr, AfterValidator(_secret_text)]
Ipv4 = Annotated[str, AfterValidator(_ipv4)]
_STATIC_IPV4 = ("address", "prefix_length", "gateway", "dns_servers")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)


class Ipv4Config(_Model):
    """Static IPv4 configuration of the guest's network adapter (omit the group for DHCP)."""

    # Either the four static values or only ``pool`` (``rule_problems`` enforces one or the other); the published
    # schema says so in the descriptions (none of the fields is required on its own).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, frozen=True)

    pool: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description=(
            "An IP address pool to allocate the address from. Give pool alone, without address, prefix_length, "
            "gateway, dns_servers and dns_suffix (the pool gives them; network and vlan_id default to the pool's)."
        ),
        examples=["prod-120"],
    )
    address: Ipv4 | None = Field(
        default=None,
        description="The guest's IPv4 address (with prefix_length, gateway and dns_servers; or give pool instead).",
        examples=["10.0.0.5"],
    )
    prefix_length: StrictInt | None = Field(
        default=None, ge=1, le=32, description="Subnet prefix length (1-32).", examples=[24]
    )
    gateway: Ipv4 | None = Field(
        default=None, description="Default gateway; inside the subnet and not the address itself."
    )
    dns_servers: Annotated[list[Ipv4], AfterValidator(_distinct)] | None = Field(
        default=None,
        min_length=1,
        max_length=2,
        description="One or two DNS servers.",
        examples=[["10.0.0.2", "10.0.0.3"]],
    )
    dns_suffix: Annotated[str, AfterValidator(_dns_name)] | None = Field(
        default=None,
        description="DNS search suffix (older Windows guest agents cannot apply it: such a request is refused).",
    )


class DomainJoin(_Model):
    """Active Directory domain join (Windows guests only)."""

    domain: Annotated[str, AfterValidator(_dns_name)] = Field(
        description="DNS name of the domain.", examples=["corp.example"]
    )
    username: Text = Field(min_length=1, max_length=104, description="Account allowed to join computers.")
    password: SecretText = Field(min_length=1, description="Password of the join account.")
    ou: Annotated[str, AfterValidator(_text), AfterValidator(_distinguished_name)] = Field(
        description="Target OU; required because the Windows guest agent skips a join without it.",
        examples=["OU=Servers,DC=corp,DC=example"],
    )


class AnsibleAccess(_Model):
    """An SSH user for Ansible with passwordless sudo (Linux guests only)."""

    ssh_user: Annotated[str, AfterValidator(_text)] = Field(
        description="Linux user name for Ansible.", examples=["ansible"]
    )
    ssh_public_key: Annotated[SecretStr, BeforeValidator(_strip_ssh_key), AfterValidator(_ssh_public_key)] = Field(
        description="OpenSSH public key line; surrounding whitespace and trailing newlines are removed."
    )


class GuestConfig(_Model):
    """Configuration the guest agent applies on first boot (delivered encrypted over Hyper-V KVP)."""

    admin_username: Text = Field(min_length=1, max_length=64, description="Local administrator account.")
    admin_password: SecretText = Field(
        min_length=8,
        max_length=LINUX_VALUE_LIMIT,
        description="Local administrator password (Windows: 8+ characters from 3 of upper, lower, digit, symbol).",
    )
    ipv4: Ipv4Config | None = Field(default=None, description="Static IPv4; omit for DHCP.")
    domain_join: DomainJoin | None = Field(default=None, description="Domain join (Windows only).")
    ansible: AnsibleAccess | None = Field(default=None, description="Ansible SSH access (Linux only).")


class VmCreateRequest(_Model):
    """A request to create one VM, optionally from a golden image with guest configuration."""

    name: Annotated[str, AfterValidator(_vm_name)] = Field(
        description="VM name and guest host name (Windows: at most 15 characters).", examples=["web01"]
    )
    host: Annotated[str, AfterValidator(_dns_name)] | None = Field(
        default=None, description="Target Hyper-V host; omit for automatic placement.", examples=["hv01"]
    )
    image: Annotated[str, AfterValidator(library_name)] | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Golden image from the host's library; omit for a blank disk.",
        examples=["Ubuntu 24.04 LTS"],
    )
    os_family: OsFamily | None = Field(
        default=None, description="windows or linux; derived from the image name when omitted."
    )
    cpu_cores: StrictInt = Field(ge=1, le=240, description="Virtual processors.", examples=[2])
    memory_gb: StrictInt = Field(ge=1, le=2048, description="Startup memory in GB (static).", examples=[4])
    disk_gb: StrictInt | None = Field(
        default=None,
        ge=1,
        le=65536,
        description="Disk size in GB: the blank disk's size, or the size a cloned image is grown to.",
        examples=[64],
    )
    network: Annotated[str, AfterValidator(library_name)] | None = Field(
        default=None, min_length=1, max_length=100, description="Virtual switch for the network adapter."
    )
    vlan_id: StrictInt | None = Field(default=None, ge=1, le=4094, description="Access VLAN on the switch port.")
    clustered: StrictBool = Field(default=False, description="Register the VM with the host's failover cluster.")
    keep_on_failure: StrictBool = Field(
        default=False, description="Keep a partially created VM for diagnosis instead of removing it."
    )
    guest: GuestConfig | None = Field(default=None, description="Guest configuration; required with an image.")
    lease: LeaseRequest | None = Field(
        default=None,
        description="Delete the VM at this time (`expires_at`) or after `hours`; see docs/leases.md.",
    )

    @property
    def resolved_os_family(self) -> OsFamily:
        """The OS family: explicit, else derived from the image (validation guarantees one exists)."""
        family = self.os_family or (os_family_from_image(self.image) if self.image else None)
        if family is None:  # pragma: no cover - excluded by rule_problems
            raise ValueError("os_family cannot be resolved")
        return family

    @model_validator(mode="after")
    def _rules(self) -> VmCreateRequest:
        problems = rule_problems(_as_raw(self))
        if problems:
            detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
            raise PydanticCustomError("request_rules", "{detail}", {"detail": detail})
        return self


# -- cross-field rules on raw input ------------------------------------------------------------------------------


def _as_raw(model: BaseModel) -> JsonObject:
    """Dump a validated model to plain data with secrets revealed, for :func:`rule_problems`."""

    def reveal(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {key: reveal(item) for key, item in value.items()}
        if isinstance(value, list):
            return [reveal(item) for item in value]
        return value

    return {key: reveal(value) for key, value in model.model_dump().items()}


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    if isinstance(data, SecretStr):
        return data.get_secret_value()
    return data


def _str(data: Any, *path: str) -> str | None:
    value = _get(data, *path)
    return value if isinstance(value, str) else None


def _address(value: Any) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _resolve_family(data: Mapping[str, Any], problems: list[Problem]) -> OsFamily | None:
    explicit = _get(data, "os_family")
    if explicit in ("windows", "linux"):
        return explicit  # type: ignore[no-any-return]
    if explicit is not None:
        return None  # field-level error already reported
    image = _str(data, "image")
    if image is None:
        if _get(data, "image") is None:
            problems.append(
                Problem("os_family", "is required when no image is given (a blank disk has no name to derive it from)")
            )
        return None
    family = os_family_from_image(image)
    if family is None:
        problems.append(
            Problem(
                "os_family",
                "cannot be derived from the image name (known prefixes: Windows…, Ubuntu…, Debian…, Rocky Linux…, "
                "RHEL…, AlmaLinux…, Oracle Linux…, CentOS…, SUSE…, openSUSE…, Fedora…); set os_family",
                "os_family_unknown",
            )
        )
    return family


def _ipv4_group_problems(data: Mapping[str, Any], problems: list[Problem]) -> None:
    """``guest.ipv4`` is either a pool reference alone or the four static values."""
    ipv4 = _get(data, "guest", "ipv4")
    if not isinstance(ipv4, Mapping):
        return
    pooled = ipv4.get("pool") is not None
    for name in (*_STATIC_IPV4, "dns_suffix") if pooled else _STATIC_IPV4:
        if pooled and ipv4.get(name) is not None:
            problems.append(
                Problem(f"guest.ipv4.{name}", "must be omitted with pool (the pool gives it)", "pool_conflict")
            )
        elif not pooled and ipv4.get(name) is None:
            problems.append(Problem(f"guest.ipv4.{name}", "is required (or give only pool)", "missing"))


def _subnet_problems(data: Mapping[str, Any], problems: list[Problem]) -> None:
    address = _address(_get(data, "guest", "ipv4", "address"))
    gateway = _address(_get(data, "guest", "ipv4", "gateway"))
    prefix = _get(data, "guest", "ipv4", "prefix_length")
    if address is None or not isinstance(prefix, int) or isinstance(prefix, bool) or not 1 <= prefix <= 32:
        return
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    special = {network.network_address, network.broadcast_address} if prefix <= 30 else set()
    if address in special:
        kind = "network" if address == network.network_address else "broadcast"
        problems.append(Problem("guest.ipv4.address", f"is the {kind} address of {network}", "address_reserved"))
    if gateway is None:
        return
    if gateway == address:
        problems.append(Problem("guest.ipv4.gateway", "must differ from the guest's address", "gateway_is_address"))
    elif gateway not in network:
        problems.append(Problem("guest.ipv4.gateway", f"must be inside the subnet {network}", "gateway_outside"))
    elif gateway in special:
        problems.append(Problem("guest.ipv4.gateway", f"must not be the network or broadcast address of {network}"))


def _length_problems(data: Mapping[str, Any], family: OsFamily, problems: list[Problem]) -> None:
    limit = WINDOWS_VALUE_LIMIT if family == "windows" else LINUX_VALUE_LIMIT
    why = (
        "the Windows guest agent cannot reassemble values longer than one 100-character chunk"
        if family == "windows"
        else "the guest protocol carries at most 30 chunks of 100 characters"
    )
    fields = [
        ("guest", "admin_username"),
        ("guest", "admin_password"),
        ("guest", "ipv4", "dns_suffix"),
        ("guest", "domain_join", "domain"),
        ("guest", "domain_join", "username"),
        ("guest", "domain_join", "password"),
        ("guest", "domain_join", "ou"),
        ("guest", "ansible", "ssh_user"),
        ("guest", "ansible", "ssh_public_key"),
    ]
    for path in fields:
        value = _str(data, *path)
        if value is None:
            continue
        if path[-1] == "ssh_public_key":
            value = value.strip()
        units = len(value.encode("utf-16-le", "surrogatepass")) // 2
        if units > limit:
            problems.append(
                Problem(
                    ".".join(path), f"is {units} characters; at most {limit} for {family} guests ({why})", "too_long"
                )
            )


def _username_problems(data: Mapping[str, Any], family: OsFamily, problems: list[Problem]) -> None:
    username = _str(data, "guest", "admin_username")
    if username is not None:
        if family == "linux" and not _LINUX_USER.fullmatch(username):
            problems.append(
                Problem(
                    "guest.admin_username",
                    "must be a Linux user name: up to 32 lower-case letters, digits, '_' or '-', starting with a "
                    "letter or '_'",
                )
            )
        if family == "windows" and (
            len(username) > 20 or set(username) & _WINDOWS_USER_FORBIDDEN or not username.strip(". ")
        ):
            problems.append(
                Problem(
                    "guest.admin_username",
                    'must be a Windows user name: at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @',
                )
            )
    ssh_user = _str(data, "guest", "ansible", "ssh_user")
    if ssh_user is not None and not _LINUX_USER.fullmatch(ssh_user):
        problems.append(
            Problem(
                "guest.ansible.ssh_user",
                "must be a Linux user name: up to 32 lower-case letters, digits, '_' or '-', starting with a letter "
                "or '_'",
            )
        )


def _password_problems(data: Mapping[str, Any], family: OsFamily, problems: list[Problem]) -> None:
    password = _str(data, "guest", "admin_password")
    if family != "windows" or password is None or len(password) < 8:
        return
    classes = sum(
        (
            any(ch.isupper() for ch in password),
            any(ch.islower() for ch in password),
            any(ch.isdigit() for ch in password),
            any(not ch.isalnum() for ch in password),
        )
    )
    username = _str(data, "guest", "admin_username") or ""
    if classes < 3:
        problems.append(
            Problem(
                "guest.admin_password",
                "must use 3 of: upper-case, lower-case, digits, symbols (Windows password complexity)",
                "password_complexity",
            )
        )
    elif len(username) >= 3 and username.lower() in password.lower():
        problems.append(Problem("guest.admin_password", "must not contain the user name (Windows password policy)"))


def rule_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every cross-field rule broken by ``data`` (raw or validated input); tolerant of invalid fields.

    Fields that are missing or of the wrong type are skipped here: their field-level problems are reported by
    the model, so a request gets each problem once.
    """
    problems: list[Problem] = []
    family = _resolve_family(data, problems)
    image = _get(data, "image")
    guest = _get(data, "guest")
    name = _str(data, "name")
    if family == "windows" and name is not None and len(name) > 15:
        problems.append(
            Problem("name", "must be at most 15 characters for Windows guests (NetBIOS computer name)", "too_long")
        )
    if image is None and _get(data, "disk_gb") is None:
        problems.append(Problem("disk_gb", "is required for a blank disk (no image given)", "missing"))
    if image is not None and guest is None:
        problems.append(
            Problem("guest", "is required when an image is given (the guest agent needs an administrator)", "missing")
        )
    if image is None and guest is not None:
        problems.append(Problem("guest", "needs an image: a blank disk has no guest agent to configure"))
    if _get(data, "vlan_id") is not None and _get(data, "network") is None:
        problems.append(Problem("vlan_id", "needs network (the virtual switch whose port is tagged)"))
    if family == "linux" and _get(data, "guest", "domain_join") is not None:
        problems.append(Problem("guest.domain_join", "domain join is supported for Windows guests only", "os_mismatch"))
    if family == "windows" and _get(data, "guest", "ansible") is not None:
        problems.append(
            Problem("guest.ansible", "Ansible SSH access is supported for Linux guests only", "os_mismatch")
        )
    _ipv4_group_problems(data, problems)
    _subnet_problems(data, problems)
    if family is not None:
        _length_problems(data, family, problems)
        _username_problems(data, family, problems)
        _password_problems(data, family, problems)
    return problems


def parse_vm_request(payload: Any) -> VmCreateRequest:
    """Validate ``payload`` (decoded JSON) into a request, or raise listing every problem with its field path."""
    try:
        return VmCreateRequest.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        field_problems = problems_from_pydantic(e for e in errors if e["type"] != "request_rules")
        rules = rule_problems(payload) if isinstance(payload, Mapping) else []
        reported = {p.field for p in field_problems}
        merged = field_problems + [p for p in rules if p.field not in reported]
        raise RequestValidationError(merged) from None
