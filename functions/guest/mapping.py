"""From the VM request model to the guest protocol's data keys (``guest_host_name``, ``guest_la_pw`` …).

The request model has already enforced the guest-side limits (Windows values ≤ 100 characters, no domain join on
Linux, no Ansible on Windows); this module only names the values. Windows guests get ``guest_v4_dns2`` equal to
``guest_v4_dns1`` when one DNS server is given, because the Windows agent passes a null second server otherwise
(guest-protocol.md §17, D10).
"""

from __future__ import annotations

from functions.guest.names import DataKey
from functions.models.vm_request import VmCreateRequest

__all__ = ["guest_values"]


def guest_values(request: VmCreateRequest) -> dict[str, str]:
    """The data values to publish for ``request`` (plaintext; seal before they enter workflow history)."""
    guest = request.guest
    if guest is None:
        return {}
    family = request.resolved_os_family
    values: dict[str, str] = {
        DataKey.GUEST_HOST_NAME: request.name,
        DataKey.GUEST_LA_UID: guest.admin_username,
        DataKey.GUEST_LA_PW: guest.admin_password.get_secret_value(),
    }
    if guest.ipv4 is not None:
        if guest.ipv4.address is None or guest.ipv4.gateway is None or guest.ipv4.prefix_length is None:
            raise ValueError("the guest's IPv4 values are not resolved (a pool's address is allocated first)")
        dns = list(guest.ipv4.dns_servers or ())
        if family == "windows" and len(dns) == 1:
            dns.append(dns[0])
        values[DataKey.GUEST_V4_IP_ADDR] = guest.ipv4.address
        values[DataKey.GUEST_V4_CIDR_PREFIX] = str(guest.ipv4.prefix_length)
        values[DataKey.GUEST_V4_DEFAULT_GW] = guest.ipv4.gateway
        values[DataKey.GUEST_V4_DNS1] = dns[0]
        if len(dns) > 1:
            values[DataKey.GUEST_V4_DNS2] = dns[1]
        if guest.ipv4.dns_suffix:
            values[DataKey.GUEST_NET_DNS_SUFFIX] = guest.ipv4.dns_suffix
    if guest.domain_join is not None:
        values[DataKey.GUEST_DOMAIN_JOIN_TARGET] = guest.domain_join.domain
        values[DataKey.GUEST_DOMAIN_JOIN_UID] = guest.domain_join.username
        values[DataKey.GUEST_DOMAIN_JOIN_PW] = guest.domain_join.password.get_secret_value()
        values[DataKey.GUEST_DOMAIN_JOIN_OU] = guest.domain_join.ou
    if guest.ansible is not None:
        values[DataKey.ANSIBLE_SSH_USER] = guest.ansible.ssh_user
        values[DataKey.ANSIBLE_SSH_KEY] = guest.ansible.ssh_public_key.get_secret_value()
    return {str(key): value for key, value in values.items()}
