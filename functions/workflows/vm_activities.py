"""Activities of the VM workflows: thin adapters that run one step and translate failures once.

Each activity calls one function of :mod:`functions.provisioning.steps`. Failures leave as :class:`StepError`
(category, transient flag, safe message), which the orchestrators use to choose between retry and compensation:
Hyper-V errors keep their category and transient flag, storage outages are transient, everything else is permanent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import azure.durable_functions as df
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from functions.guest.errors import GuestAlreadyProvisionedError, GuestProtocolError
from functions.hyperv.errors import HyperVError
from functions.provisioning import steps
from functions.sealing import SealError
from functions.workflows.errors import StepError

__all__ = ["bp", "run_step"]

log = logging.getLogger(__name__)
bp = df.Blueprint()

Payload = dict[str, Any]


def run_step(step: Callable[[Mapping[str, Any]], Any], payload: Mapping[str, Any]) -> Any:
    """Run ``step`` and translate its failure into a :class:`StepError` (raised from the original)."""
    try:
        return step(payload)
    except StepError:
        raise
    except HyperVError as exc:
        raise StepError(type(exc).__name__, str(exc), transient=exc.transient) from exc
    except GuestAlreadyProvisionedError as exc:
        raise StepError("GuestAlreadyProvisioned", str(exc)) from exc
    except GuestProtocolError as exc:
        raise StepError("GuestProtocolError", str(exc)) from exc
    except SealError as exc:
        raise StepError("SealError", str(exc)) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StepError("StorageUnavailable", type(exc).__name__, transient=True) from exc
    except HttpResponseError as exc:
        transient = exc.status_code is not None and exc.status_code >= 500
        raise StepError("StorageError", f"HTTP {exc.status_code}", transient=transient) from exc
    except Exception as exc:
        log.exception("step %s failed unexpectedly", getattr(step, "__name__", step))
        raise StepError("InternalError", f"{type(exc).__name__} in {getattr(step, '__name__', 'step')}") from exc


@bp.activity_trigger(input_name="payload")
def vm_place(payload: Payload) -> Any:
    """Choose a host for a request without one."""
    return run_step(steps.place, payload)


@bp.activity_trigger(input_name="payload")
def vm_preflight(payload: Payload) -> Any:
    """Check the request against the host."""
    return run_step(steps.preflight, payload)


@bp.activity_trigger(input_name="payload")
def vm_prepare_disk(payload: Payload) -> Any:
    """Clone the image or create a blank disk."""
    return run_step(steps.prepare_disk, payload)


@bp.activity_trigger(input_name="payload")
def vm_create(payload: Payload) -> Any:
    """Register the VM."""
    return run_step(steps.create, payload)


@bp.activity_trigger(input_name="payload")
def vm_start_and_announce(payload: Payload) -> Any:
    """Start the VM and announce the provisioning handshake."""
    return run_step(steps.start_and_announce, payload)


@bp.activity_trigger(input_name="payload")
def vm_guest_status(payload: Payload) -> Any:
    """Read the guest's provisioning state."""
    return run_step(steps.guest_status, payload)


@bp.activity_trigger(input_name="payload")
def vm_publish_guest_data(payload: Payload) -> Any:
    """Publish the encrypted guest data."""
    return run_step(steps.publish_guest_data, payload)


@bp.activity_trigger(input_name="payload")
def vm_signal_published(payload: Payload) -> Any:
    """Signal that the data is published."""
    return run_step(steps.signal_published, payload)


@bp.activity_trigger(input_name="payload")
def vm_finish_guest(payload: Payload) -> Any:
    """Eject the ISO and clean the host's KVP items."""
    return run_step(steps.finish_guest, payload)


@bp.activity_trigger(input_name="payload")
def vm_cluster_add(payload: Payload) -> Any:
    """Register the VM with the failover cluster."""
    return run_step(steps.cluster_add, payload)


@bp.activity_trigger(input_name="payload")
def vm_cluster_remove(payload: Payload) -> Any:
    """Remove the VM's cluster role."""
    return run_step(steps.cluster_remove, payload)


@bp.activity_trigger(input_name="payload")
def vm_cleanup(payload: Payload) -> Any:
    """Compensation: remove what a failed create left."""
    return run_step(steps.cleanup, payload)


@bp.activity_trigger(input_name="payload")
def vm_refresh_and_describe(payload: Payload) -> Any:
    """Refresh the host's inventory and describe the VM."""
    return run_step(steps.refresh_and_describe, payload)


@bp.activity_trigger(input_name="payload")
def vm_remove(payload: Payload) -> Any:
    """Delete a VM (missing = success)."""
    return run_step(steps.remove, payload)


@bp.activity_trigger(input_name="payload")
def vm_power(payload: Payload) -> Any:
    """Run a power action."""
    return run_step(steps.power, payload)


@bp.activity_trigger(input_name="payload")
def job_update(payload: Payload) -> Any:
    """Update the job record."""
    return run_step(steps.job_update, payload)
