r"""What an upstream guest agent does to the values it is given, and the values it would therefore mangle.

The Aether-V 2.x agents on older provisioning ISOs report success while some values arrive changed: the Linux
modules pass values through ``echo`` and ``xargs`` (quotes, backslashes, blanks and option-like words are
altered or lost), the Windows modules read them in the ANSI code page and trim the domain-join values, and ignore
the DNS suffix. :func:`upstream_agent_problems` lists each such value (by data key, with a message that names the
rule, never the value) so the host refuses it before publishing anything; :func:`upstream_linux_reading` models
the Linux pipeline and is checked against the real GNU tools. Rules come from reading the upstream modules
(``reference/guest-protocol.md``, last section) and are listed in ``docs/guest-agents.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from functions.guest.kvp import OsFamily, is_blank, utf16_units
from functions.guest.names import CHUNK_UNITS, DataKey

__all__ = [
    "ANSIBLE_KEYS",
    "API_FIELDS",
    "DOMAIN_KEYS",
    "IPV4_KEYS",
    "REBUILD_ADVICE",
    "cannot_apply",
    "upstream_agent_problems",
    "upstream_linux_reading",
]


API_FIELDS: Final[Mapping[str, str]] = {
    DataKey.GUEST_HOST_NAME: "name",
    DataKey.GUEST_LA_UID: "guest.admin_username",
    DataKey.GUEST_LA_PW: "guest.admin_password",
    DataKey.GUEST_V4_IP_ADDR: "guest.ipv4.address",
    DataKey.GUEST_V4_CIDR_PREFIX: "guest.ipv4.prefix_length",
    DataKey.GUEST_V4_DEFAULT_GW: "guest.ipv4.gateway",
    DataKey.GUEST_V4_DNS1: "guest.ipv4.dns_servers",
    DataKey.GUEST_V4_DNS2: "guest.ipv4.dns_servers",
    DataKey.GUEST_NET_DNS_SUFFIX: "guest.ipv4.dns_suffix",
    DataKey.GUEST_DOMAIN_JOIN_TARGET: "guest.domain_join.domain",
    DataKey.GUEST_DOMAIN_JOIN_UID: "guest.domain_join.username",
    DataKey.GUEST_DOMAIN_JOIN_PW: "guest.domain_join.password",
    DataKey.GUEST_DOMAIN_JOIN_OU: "guest.domain_join.ou",
    DataKey.ANSIBLE_SSH_USER: "guest.ansible.ssh_user",
    DataKey.ANSIBLE_SSH_KEY: "guest.ansible.ssh_public_key",
}
"""The request field each data key comes from (``functions.guest.mapping``), for error messages."""

# (what the value is, what the user can do instead)
_NOUNS: Final[Mapping[str, tuple[str, str]]] = {
    DataKey.GUEST_HOST_NAME: ("host name", "choose another VM name"),
    DataKey.GUEST_LA_UID: ("administrator user name", "choose another user name"),
    DataKey.GUEST_LA_PW: ("password", "choose another password"),
    DataKey.GUEST_V4_IP_ADDR: ("IPv4 address", "change the address"),
    DataKey.GUEST_V4_CIDR_PREFIX: ("prefix length", "change the prefix length"),
    DataKey.GUEST_V4_DEFAULT_GW: ("gateway", "change the gateway"),
    DataKey.GUEST_V4_DNS1: ("DNS server", "change the DNS servers"),
    DataKey.GUEST_V4_DNS2: ("DNS server", "change the DNS servers"),
    DataKey.GUEST_NET_DNS_SUFFIX: ("DNS suffix", "leave the DNS suffix out"),
    DataKey.GUEST_DOMAIN_JOIN_TARGET: ("domain name", "change the domain name"),
    DataKey.GUEST_DOMAIN_JOIN_UID: ("domain-join user name", "choose another join account"),
    DataKey.GUEST_DOMAIN_JOIN_PW: ("domain-join password", "choose another join password"),
    DataKey.GUEST_DOMAIN_JOIN_OU: ("domain-join OU", "choose another OU"),
    DataKey.ANSIBLE_SSH_USER: ("Ansible user name", "choose another user name"),
    DataKey.ANSIBLE_SSH_KEY: ("SSH public key", "change the key's comment"),
}
REBUILD_ADVICE: Final = "rebuild its provisioning ISO with the current agent"

# Values the upstream Linux modules read with `read_file_safe <file> | tr -d '\0\r\n' | xargs` (HLVMM and Aether-V
# 2.4 Linux/modules/mod_general.sh, mod_net.sh, mod_ansible.sh).
_LINUX_XARGS_KEYS: Final = frozenset(
    {
        DataKey.GUEST_HOST_NAME,
        DataKey.GUEST_LA_UID,
        DataKey.GUEST_LA_PW,
        DataKey.GUEST_V4_IP_ADDR,
        DataKey.GUEST_V4_CIDR_PREFIX,
        DataKey.GUEST_V4_DEFAULT_GW,
        DataKey.GUEST_V4_DNS1,
        DataKey.GUEST_V4_DNS2,
        DataKey.GUEST_NET_DNS_SUFFIX,
        DataKey.ANSIBLE_SSH_USER,
        DataKey.ANSIBLE_SSH_KEY,
    }
)
DOMAIN_KEYS: Final = frozenset(
    {
        DataKey.GUEST_DOMAIN_JOIN_TARGET,
        DataKey.GUEST_DOMAIN_JOIN_UID,
        DataKey.GUEST_DOMAIN_JOIN_PW,
        DataKey.GUEST_DOMAIN_JOIN_OU,
    }
)
ANSIBLE_KEYS: Final = frozenset({DataKey.ANSIBLE_SSH_USER, DataKey.ANSIBLE_SSH_KEY})
IPV4_KEYS: Final = frozenset(
    {
        DataKey.GUEST_V4_IP_ADDR,
        DataKey.GUEST_V4_CIDR_PREFIX,
        DataKey.GUEST_V4_DEFAULT_GW,
        DataKey.GUEST_V4_DNS1,
        DataKey.GUEST_V4_DNS2,
    }
)
# Values the upstream Windows modules read with Get-Content without -Encoding (ANSI code page): mod_general.ps1
# (host name, user, password), mod_net.ps1 (addresses), mod_domain.ps1 and the phase-two join (domain values).
_WINDOWS_GET_CONTENT_KEYS: Final = frozenset(
    {
        DataKey.GUEST_HOST_NAME,
        DataKey.GUEST_LA_UID,
        DataKey.GUEST_LA_PW,
        *IPV4_KEYS,
        *DOMAIN_KEYS,
    }
)
# mod_domain.ps1 and the phase-two join apply .Trim() to these.
_WINDOWS_TRIMMED_KEYS: Final = frozenset(
    {DataKey.GUEST_DOMAIN_JOIN_UID, DataKey.GUEST_DOMAIN_JOIN_PW, DataKey.GUEST_DOMAIN_JOIN_OU}
)

_ECHO_OPTION: Final = re.compile(r"-[neE]+")
_XARGS_BLANKS: Final = " \t\n"
_DOTNET_WHITESPACE: Final = frozenset(" \t\n\v\f\r\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(code) for code in range(0x2000, 0x200B)
)


# -- what an upstream agent does to a value -----------------------------------------------------------------------


def _xargs_words(value: str) -> list[str] | None:
    r"""GNU ``xargs`` (no ``-0``/``-d``) input parsing: blanks split words, quotes group, ``\`` escapes.

    Returns ``None`` where xargs stops with "unmatched quote" (it then runs no command: the value is lost).
    """
    words: list[str] = []
    current: list[str] = []
    in_word = False
    quote: str | None = None
    index = 0
    while index < len(value):
        char = value[index]
        if quote is not None:
            if char == quote:
                quote = None
            elif char == "\n":
                return None
            else:
                current.append(char)
        elif char in _XARGS_BLANKS:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        elif char in "'\"":
            quote, in_word = char, True
        elif char == "\\":
            index += 1
            in_word = True
            if index < len(value):
                current.append(value[index])
        else:
            current.append(char)
            in_word = True
        index += 1
    if quote is not None:
        return None
    if in_word:
        words.append("".join(current))
    return words


def _gnu_echo(words: list[str]) -> str | None:
    """What ``/bin/echo`` (GNU coreutils) prints for ``words``, without the final newline; ``None`` if unknown."""
    if len(words) == 1 and words[0] in ("--help", "--version"):
        return None  # prints its usage or version text instead
    interpret = False
    start = 0
    for word in words:
        if not _ECHO_OPTION.fullmatch(word):
            break
        for flag in word[1:]:
            if flag == "e":
                interpret = True
            elif flag == "E":
                interpret = False
        start += 1
    text = " ".join(words[start:])
    if interpret and "\\" in text:
        return None  # escapes would be interpreted
    return text


def upstream_linux_reading(value: str) -> str | None:
    r"""What the upstream Linux modules end up with for ``value`` (``None``: lost or replaced by other text).

    Models ``echo "$v" > file`` (a value that is exactly an echo option is stored empty), then
    ``read_file_safe file | tr -d '\0\r\n' | xargs`` (GNU xargs word parsing, then ``/bin/echo`` of the words)
    and command substitution (trailing newline removed).
    """
    if _ECHO_OPTION.fullmatch(value):
        return ""
    words = _xargs_words(value.replace("\x00", "").replace("\r", "").replace("\n", ""))
    if words is None:
        return None
    if not words:
        return ""
    return _gnu_echo(words)


def _linux_cause(value: str) -> str | None:
    """Why the upstream Linux agent would change ``value`` (the first reason found), or ``None``."""
    if "'" in value:
        return "containing '"
    if '"' in value:
        return 'containing "'
    if "\\" in value:
        return "containing \\"
    if value[:1] in (" ", "\t"):
        return "starting with a space"
    if value[-1:] in (" ", "\t"):
        return "ending with a space"
    if re.search(r"[ \t]{2}", value):
        return "containing two spaces in a row"
    first_word = value.split(None, 1)[0] if value.split() else ""
    if _ECHO_OPTION.fullmatch(first_word):
        return "starting with an echo option such as -n or -e"
    if value in ("--help", "--version"):
        return "equal to --help or --version"
    if upstream_linux_reading(value) != value:  # pragma: no cover - every known cause is listed above
        return "that its value reader would change"
    return None


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def cannot_apply(key: str, cause: str, *, windows: bool = False) -> str:
    noun, instead = _NOUNS.get(key, (key, "choose another value"))
    agent = "this image's Windows guest agent" if windows else "this image's guest agent"
    return f"{agent} cannot set {_article(noun)} {noun} {cause} — {REBUILD_ADVICE} or {instead}"


def upstream_agent_problems(values: Mapping[str, str | None], os_family: OsFamily) -> dict[str, str]:
    """Every value an upstream (Aether-V 2.4 / HLVMM) agent of ``os_family`` would not apply exactly.

    ``values`` are keyed by data key as :func:`functions.guest.mapping.guest_values` returns them; the result
    maps each offending data key (see :data:`API_FIELDS` for its request field) to a message that names the
    rule, never the value. Blank values are not published and are ignored. The rules are listed in
    ``docs/guest-agents.md``.
    """
    problems: dict[str, str] = {}
    present = {
        str(key): value.rstrip("\r\n")
        for key, value in values.items()
        if isinstance(value, str) and not is_blank(value)
    }
    if os_family == "linux":
        for key, value in present.items():
            if key in DOMAIN_KEYS:
                problems[key] = (
                    f"this image's Linux guest agent does not join domains — {REBUILD_ADVICE} or leave it out"
                )
            elif key in _LINUX_XARGS_KEYS:
                cause = _linux_cause(value)
                if cause is not None:
                    problems[key] = cannot_apply(key, cause)
        return problems
    for key, value in present.items():
        if key in ANSIBLE_KEYS:
            problems[key] = f"this image's Windows guest agent does not set up Ansible access — {REBUILD_ADVICE}"
            continue
        if key == DataKey.GUEST_NET_DNS_SUFFIX:
            problems[key] = (
                "this image's Windows guest agent does not apply a DNS suffix — "
                f"{REBUILD_ADVICE} or leave the suffix out"
            )
            continue
        if utf16_units(value) > CHUNK_UNITS:
            problems[key] = cannot_apply(
                key, f"longer than {CHUNK_UNITS} characters (it cannot read chunked values)", windows=True
            )
            continue
        if key in _WINDOWS_GET_CONTENT_KEYS and any(ord(char) > 0x7F for char in value):
            problems[key] = cannot_apply(
                key, "containing non-ASCII characters (it reads them in the ANSI code page)", windows=True
            )
            continue
        if key in _WINDOWS_TRIMMED_KEYS and (value[:1] in _DOTNET_WHITESPACE or value[-1:] in _DOTNET_WHITESPACE):
            problems[key] = cannot_apply(key, "starting or ending with a space (it trims the value)", windows=True)
    if DataKey.GUEST_DOMAIN_JOIN_TARGET in present:
        for required in (DataKey.GUEST_DOMAIN_JOIN_UID, DataKey.GUEST_DOMAIN_JOIN_PW, DataKey.GUEST_DOMAIN_JOIN_OU):
            if required not in present:
                problems.setdefault(
                    required, "is required: this image's Windows guest agent silently skips a join without it"
                )
    return problems
