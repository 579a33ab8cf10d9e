"""The agents' configuration modules: what ``mod_general``, ``mod_net``, ``mod_domain`` and ``mod_ansible`` apply.

Each module reads its ``hlvmm.data.*`` values and records what it would configure in an
:class:`~tools.hvsim.guest.config.AppliedConfig`, with the flavour's quirks: Windows ignores the DNS suffix (D10)
and joins a domain only with target, user, password and OU (D8); Linux needs address, prefix and gateway for a
static address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from tools.hvsim.guest.config import DATA_PREFIX, AppliedConfig, DomainJoin, OsFamily, StaticIPv4

__all__ = ["run_module"]


def run_module(module: str, os_family: OsFamily, values: Mapping[str, str], config: AppliedConfig) -> AppliedConfig:
    """What ``module`` adds to ``config`` given the decrypted ``values`` (a module without its inputs is skipped)."""

    def get(key: str) -> str | None:
        return values.get(DATA_PREFIX + key) or None

    windows = os_family == "windows"
    if module == "mod_general":
        user, password = get("guest_la_uid"), get("guest_la_pw")
        has_user = bool(user and password)
        return replace(
            config,
            hostname=get("guest_host_name"),
            admin_user=user if has_user else None,
            admin_password=password if has_user else None,
        )
    if module == "mod_net":
        address, prefix, gateway = (
            get("guest_v4_ip_addr"),
            get("guest_v4_cidr_prefix"),
            get("guest_v4_default_gw"),
        )
        dns = tuple(server for server in (get("guest_v4_dns1"), get("guest_v4_dns2")) if server)
        if windows:
            if address is None:
                return config
            ipv4 = StaticIPv4(None, address, prefix, gateway, dns, None)  # the suffix is ignored (D10)
        else:
            if not (address and prefix and gateway):
                return config
            suffix = get("guest_net_dns_suffix") if dns else None
            ipv4 = StaticIPv4("eth0", address, prefix, gateway, dns, suffix)
        return replace(config, ipv4=ipv4)
    if module == "mod_domain":
        target, user = get("guest_domain_join_target"), get("guest_domain_join_uid")
        password, ou = get("guest_domain_join_pw"), get("guest_domain_join_ou")
        if not (target and user and password and ou):
            return config  # skipped silently (D8)
        return replace(config, domain=DomainJoin(target, ou, user, password))
    # mod_ansible
    user, ssh_key = get("ansible_ssh_user"), get("ansible_ssh_key")
    if not (user and ssh_key):
        return config
    return replace(config, ansible_user=user, ansible_ssh_key=ssh_key)
