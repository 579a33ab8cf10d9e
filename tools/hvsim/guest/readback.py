r"""What the real Linux agent applied, read back from its sandbox: the guest's own state, not the agent's word.

========================  ==========================================================================================
host name                 ``/etc/hostname``, once the agent changed it
administrator             the last ``chpasswd`` stdin (``user:password\n``); its user in the ``sudo``/``wheel``
                          group of ``/etc/group`` or with a sudoers drop-in
static IPv4               ``/etc/netplan/60-aetherv-static.yaml`` once ``netplan apply`` ran, or
                          ``/etc/NetworkManager/system-connections/aetherv-<if>.nmconnection`` once
                          ``nmcli connection up`` ran (address, prefix, gateway, DNS servers, search domain)
Ansible                   the user of a ``NOPASSWD`` drop-in in ``/etc/sudoers.d`` and the last line of its
                          ``~/.ssh/authorized_keys`` (home from ``/etc/passwd``)
========================  ==========================================================================================

The netplan reader understands the block-style YAML subset netplan files use (mappings, ``-`` lists, quoted
scalars); a file it cannot read counts as no static address.
"""

from __future__ import annotations

import configparser
import json
from typing import Any

from tools.hvsim.guest.config import LINUX_MODULES, AppliedConfig, StaticIPv4
from tools.hvsim.guest.sandbox import TEMPLATE_HOSTNAME, LinuxSandbox

__all__ = ["parse_netplan", "parse_nm_keyfile", "read_applied", "read_static_ipv4"]

NETPLAN_FILE = "/etc/netplan/60-aetherv-static.yaml"
NM_DIR = "/etc/NetworkManager/system-connections"


def read_applied(sandbox: LinuxSandbox, *, completed: bool) -> AppliedConfig:
    """What the sandbox shows the agent applied; ``completed``: the agent reported ``provisioningapplied``."""
    hostname = (sandbox.read_text("/etc/hostname") or "").removesuffix("\n")
    admin_user = admin_password = None
    calls = sandbox.calls()
    passwords = [call for call in calls if call.command == "chpasswd"]
    if passwords:
        line = passwords[-1].stdin.decode("utf-8", "surrogateescape").removesuffix("\n")
        admin_user, _, admin_password = line.partition(":")
    ansible_user, ansible_key = _ansible(sandbox)
    ipv4 = read_static_ipv4(sandbox, [call.argv for call in calls if call.command in ("netplan", "nmcli")])
    config = AppliedConfig(
        hostname=hostname if hostname and hostname != TEMPLATE_HOSTNAME else None,
        admin_user=admin_user,
        admin_password=admin_password,
        ipv4=ipv4,
        ansible_user=ansible_user,
        ansible_ssh_key=ansible_key,
    )
    modules: tuple[str, ...] = LINUX_MODULES
    if not completed:
        effects = {
            "mod_general": config.hostname or config.admin_user,
            "mod_net": config.ipv4,
            "mod_ansible": config.ansible_user,
        }
        modules = tuple(module for module in LINUX_MODULES if effects[module])
    return AppliedConfig(**{**_fields(config), "modules": modules})


def _fields(config: AppliedConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in AppliedConfig.__dataclass_fields__}


def _ansible(sandbox: LinuxSandbox) -> tuple[str | None, str | None]:
    sudoers = sandbox.path("/etc/sudoers.d")
    users = []
    for drop_in in sorted(sudoers.glob("aetherv-*")) if sudoers.is_dir() else []:
        line = drop_in.read_text(encoding="utf-8", errors="replace").strip()
        if line.endswith("NOPASSWD:ALL"):
            users.append(line.split(None, 1)[0])
    if not users:
        return None, None
    user = users[-1]
    home = f"/home/{user}"
    for entry in (sandbox.read_text("/etc/passwd") or "").splitlines():
        fields = entry.split(":")
        if fields[0] == user and len(fields) > 5 and fields[5].startswith("/"):
            home = fields[5]
    keys = [line for line in (sandbox.read_text(f"{home}/.ssh/authorized_keys") or "").split("\n") if line]
    return user, keys[-1] if keys else None


def read_static_ipv4(sandbox: LinuxSandbox, calls: list[tuple[str, ...]] | None = None) -> StaticIPv4 | None:
    """The static address the agent applied (``calls``: argv of the ``netplan``/``nmcli`` calls, else all)."""
    if calls is None:
        calls = [call.argv for call in sandbox.calls() if call.command in ("netplan", "nmcli")]
    netplan = sandbox.read_text(NETPLAN_FILE)
    if netplan is not None and ("apply",) in calls:
        return parse_netplan(netplan)
    directory = sandbox.path(NM_DIR)
    for keyfile in sorted(directory.glob("aetherv-*.nmconnection")) if directory.is_dir() else []:
        name = keyfile.name.removesuffix(".nmconnection")
        if ("connection", "up", name) in calls:
            return parse_nm_keyfile(keyfile.read_text(encoding="utf-8", errors="replace"))
    return None


def parse_nm_keyfile(text: str) -> StaticIPv4 | None:
    """A NetworkManager keyfile's static IPv4 (``method=manual``, ``address1=<addr>/<prefix>,<gateway>``)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    if parser.get("ipv4", "method", fallback="") != "manual":
        return None
    address, _, gateway = parser.get("ipv4", "address1", fallback="").partition(",")
    address, _, prefix = address.partition("/")
    if not address:
        return None
    dns = tuple(server for server in parser.get("ipv4", "dns", fallback="").split(";") if server)
    search = [domain for domain in parser.get("ipv4", "dns-search", fallback="").split(";") if domain]
    interface = parser.get("connection", "interface-name", fallback=None)
    return StaticIPv4(interface, address, prefix or None, gateway or None, dns, search[0] if search else None)


def parse_netplan(text: str) -> StaticIPv4 | None:
    """The first static IPv4 address of a netplan file's ``ethernets`` (address, route, nameservers)."""
    try:
        document = _parse_yaml(text)
        ethernets = document["network"]["ethernets"]
        interface, settings = next(iter(ethernets.items()))
        address, _, prefix = str(settings["addresses"][0]).partition("/")
    except (KeyError, IndexError, TypeError, StopIteration, ValueError, AttributeError):
        return None
    routes = settings.get("routes") or []
    gateway = next((str(route["via"]) for route in routes if route.get("to") in ("default", "0.0.0.0/0")), None)
    nameservers = settings.get("nameservers") or {}
    dns = tuple(str(server) for server in nameservers.get("addresses") or [])
    search = [str(domain) for domain in nameservers.get("search") or []]
    return StaticIPv4(str(interface), address, prefix or None, gateway, dns, search[0] if search else None)


# -- a block-style YAML subset --------------------------------------------------------------------------------


def _parse_yaml(text: str) -> Any:
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        content = raw.strip()
        if content and not content.startswith("#"):
            lines.append((len(raw) - len(raw.lstrip(" ")), content))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError("unexpected indentation")
    return value


def _block(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[Any, int]:
    if lines[index][1].startswith("-"):
        return _sequence(lines, index, indent)
    return _mapping(lines, index, indent)


def _sequence(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while index < len(lines) and lines[index][0] == indent and lines[index][1].startswith("-"):
        item = lines[index][1][1:].strip()
        if not item:
            value, index = _block(lines, index + 1, lines[index + 1][0])
        elif _is_pair(item):  # "- key: value" opens a mapping indented like its first key
            lines[index] = (indent + 2, item)
            value, index = _mapping(lines, index, indent + 2)
        else:
            value, index = _scalar(item), index + 1
        items.append(value)
    return items, index


def _mapping(lines: list[tuple[int, str]], index: int, indent: int) -> tuple[dict[str, Any], int]:
    mapping: dict[str, Any] = {}
    while index < len(lines) and lines[index][0] == indent and not lines[index][1].startswith("-"):
        if not _is_pair(lines[index][1]):
            raise ValueError(f"not a mapping entry: {lines[index][1]!r}")
        key, value_text = _split_pair(lines[index][1])
        index += 1
        if value_text:
            mapping[key] = _scalar(value_text)
        elif index < len(lines) and (
            lines[index][0] > indent or (lines[index][0] == indent and lines[index][1].startswith("-"))
        ):
            mapping[key], index = _block(lines, index, lines[index][0])
        else:
            mapping[key] = None
    return mapping, index


def _is_pair(content: str) -> bool:
    try:
        _split_pair(content)
    except ValueError:
        return False
    return True


def _split_pair(content: str) -> tuple[str, str]:
    if content.startswith(('"', "'")):
        quote = content[0]
        end = content.index(quote, 1)
        key, rest = content[: end + 1], content[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError("quoted key without a colon")
        return str(_scalar(key)), rest[1:].strip()
    key, colon, rest = content.partition(":")
    if not colon or (rest and not rest.startswith(" ")):
        raise ValueError("no key")
    return key.strip(), rest.strip()


def _scalar(text: str) -> Any:
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return json.loads(text)
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    return text
