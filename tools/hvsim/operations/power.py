"""The VM state machine's operations: ``start_vm``, ``stop_vm``, ``shutdown_vm`` and ``restart_vm``.

Transitions take :class:`~tools.hvsim.models.TransitionTimes` seconds of the backend clock. ``shutdown_vm`` asks
the guest's integration service (it answers when the VM runs and has an OS) and then polls without holding the
host's lock, as the real script's polling loop lets other sessions work.
"""

from __future__ import annotations

from typing import Any

from tools.hvsim.exceptions import InvalidVmState, OperationTimeout
from tools.hvsim.models import FakeHost, FakeVm
from tools.hvsim.operations.params import vm_param

__all__ = ["restart_vm", "shutdown_vm", "start_vm", "stop_vm"]


def _power_result(vm: FakeVm, previous: str, changed: bool) -> dict[str, Any]:
    return {"id": vm.id, "previous_state": previous, "state": vm.state, "changed": changed}


def start_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``start_vm.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    previous = vm.state
    if previous in ("Off", "Saved"):
        vm.start()
        return _power_result(vm, previous, True)
    if previous == "Paused":
        vm.resume()
        return _power_result(vm, previous, True)
    if previous in ("Running", "Starting") and params.get("if_needed"):
        return _power_result(vm, previous, False)
    raise InvalidVmState(f"cannot start VM {vm.id}: it is {previous}")


def stop_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``stop_vm.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    previous = vm.state
    if previous == "Off":
        return _power_result(vm, previous, False)
    if previous not in ("Running", "Starting", "Paused", "Saved", "Stopping"):
        raise InvalidVmState(f"cannot turn off VM {vm.id}: it is {previous}")
    vm.turn_off()
    return _power_result(vm, previous, True)


def shutdown_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``shutdown_vm.ps1``: guest shutdown, then poll (without holding the host) until Off or the timeout."""
    timeout = int(params["timeout_seconds"]) if params.get("timeout_seconds") is not None else 120
    with host.lock:
        vm = vm_param(host, params.get("vm_id"))
        previous = vm.state
        if previous == "Off":
            return _power_result(vm, previous, False)
        if previous == "Running":
            if not vm.integration_services:
                raise InvalidVmState(
                    f"cannot shut down VM {vm.id}: the guest's shutdown integration service is not available"
                )
            vm.shutdown()
        elif previous != "Stopping":
            raise InvalidVmState(f"cannot shut down VM {vm.id}: it is {previous}")
    backend = host.backend
    deadline = backend.clock() + timeout
    while True:
        with host.lock:
            state = vm.state
            if state == "Off":
                return _power_result(vm, previous, True)
        if backend.clock() >= deadline:
            raise OperationTimeout(f"VM {vm.id} did not shut down within {timeout} s (it is {state})")
        backend.sleep(0.5)


def restart_vm(host: FakeHost, params: dict[str, Any]) -> Any:
    """``restart_vm.ps1``."""
    vm = vm_param(host, params.get("vm_id"))
    previous = vm.state
    if previous != "Running":
        raise InvalidVmState(f"cannot restart VM {vm.id}: it is {previous}")
    vm.reset()
    return _power_result(vm, previous, True)
