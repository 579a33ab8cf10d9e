"""The guests' provisioning agents: the real Linux agent in a sandbox, and a simulated agent of both generations.

:class:`LinuxAgentGuest` runs the project's real ``agents/linux/aetherv-guest-agent`` as a process in a
:class:`LinuxSandbox` (stub system commands, the KVP pool files in ``hv_kvp_daemon``'s format, bridged to the
simulated pools; see :mod:`.process`). It stands in for the guest's KVP daemon, so it uses the pool file format
of :mod:`functions.guest.pool_file`; the agent itself is the real one.

A :class:`SimulatedGuest` plays the provisioning agent of one VM (``reference/guest-protocol.md`` §4, §11,
§12, §16): it reads the host pool (items the host wrote), writes the guest pool, and records what its
modules would have configured in :attr:`SimulatedGuest.applied`. Time comes from an injectable clock, so
tests run the 5 s polls and the Linux 300 s timeouts instantly with a fake clock.

The simulated guest is deliberately an **independent implementation** of the guest side: it does not import
``functions.guest``, and it repeats the key names, the decryption and the checksum recipe on its own, so
that a bug in the host side shows up as a guest failure instead of being mirrored. The small duplication is
intended.

Driving it: call :meth:`SimulatedGuest.tick` whenever the host reads the guest pool, **before** every change
the host makes to its pool, and on a background timer. Between two ticks the agent assumes the host pool did
not change, which lets it replay every poll it would have made since the previous tick.

It plays this project's agents by default (``GuestBehaviour.agent == "aetherv"``, :mod:`.aetherv`: capability
mark with the nonce echo, exact values, chunks everywhere, unsupported keys refused, the Windows agent's
verification run after its reboot) or the upstream Aether-V 2.4 agents (``agent="upstream"``, below).

Behaviour of the original (upstream) agents that is reproduced (§16, §17):

- Windows ejects its CD when the agent starts, waits for host states forever (D5), discovers only bare
  ``hlvmm.data.*`` names and so never reads chunked values (D1, the checksum then fails), ignores the DNS
  suffix (D10), joins a domain only with target, user, password and OU (D8), writes the error key only when
  it is not empty, compares the checksum case-insensitively (PowerShell ``-ne``).
- Linux gives up after 300 s waiting for each host state, reassembles chunks, loses trailing newlines of
  each chunk and of each value (D2; command substitution), drops NUL bytes, decrypts with a ``-nopad``
  fallback that turns bad padding into garbage, checks the unwrapped key is 32 bytes, retries the checksum
  once after 30 s, writes an empty error with ``waitingforaeskey``, ``applying`` and
  ``provisioningapplied``, reads a value that is exactly an ``echo`` option (``-n``, ``-e``, ``-E`` …) as
  empty, and reports ``error applying:<module>``.
- Both skip values that fail to decrypt (the checksum then fails), truncate summaries to 200 characters, and
  compare versions after trimming whitespace and NULs.

Divergences: with ``missing_kvp_daemon`` the failure is written to the guest pool so tests can see it (a
real guest's write would never reach the host, which would time out instead); unwrapping the AES key with
the wrong RSA key can, rarely, yield 32 random bytes rather than an error (OpenSSL's implicit rejection),
which then surfaces as a checksum failure; the Windows phase-two domain join after the reboot always
succeeds.

Modules, in import order:

=============  ==============================================================================================
``config``     wire names, :class:`GuestBehaviour`, :class:`AppliedConfig` and what it holds
``keys``       the guest key pair and its published form
``reading``    reading and decrypting the host pool, the checksum (upstream agents)
``modules``    what each configuration module applies (upstream agents)
``aetherv``    reading, the capability mark and the modules of this project's agents
``agent``      :class:`SimulatedGuest`, the state machine
``sandbox``    :class:`LinuxSandbox`: the real Linux agent's root, stub commands and pool files
``readback``   what the real Linux agent applied, read from its sandbox
``process``    :class:`LinuxAgentGuest`: the real Linux agent's process, pool bridge and lifetime
=============  ==============================================================================================

This package imports nothing else of the simulator; :mod:`tools.hvsim.models` builds agents through it.
"""

from tools.hvsim.guest.agent import STALE_NONCE, SimulatedGuest
from tools.hvsim.guest.config import (
    APPLIED,
    APPLYING,
    FAILED,
    LINUX_MODULES,
    WAITING_FOR_AES_KEY,
    WINDOWS_MODULES,
    AppliedConfig,
    DomainJoin,
    GuestBehaviour,
    OsFamily,
    StaticIPv4,
)
from tools.hvsim.guest.keys import capi_public_key_blob, export_public_key, pooled_key
from tools.hvsim.guest.process import LinuxAgentGuest, process_group_members
from tools.hvsim.guest.sandbox import LinuxSandbox, StubCall

__all__ = [
    "APPLIED",
    "APPLYING",
    "FAILED",
    "LINUX_MODULES",
    "STALE_NONCE",
    "WAITING_FOR_AES_KEY",
    "WINDOWS_MODULES",
    "AppliedConfig",
    "DomainJoin",
    "GuestBehaviour",
    "LinuxAgentGuest",
    "LinuxSandbox",
    "OsFamily",
    "SimulatedGuest",
    "StaticIPv4",
    "StubCall",
    "capi_public_key_blob",
    "export_public_key",
    "pooled_key",
    "process_group_members",
]
