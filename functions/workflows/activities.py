"""The activity triggers: each contract of :mod:`functions.provisioning.contracts` bound to the step that does it.

:func:`activities_blueprint` registers one activity function per contract, under the contract's name. Each one
decodes its payload, calls one method of the :class:`~functions.provisioning.steps.Provisioner` (or the inventory
sync) the composition root built, encodes the result, and translates a failure once, into a
:class:`~functions.errors.StepError` (category, transient flag, safe message) that the orchestrators use to choose
between retry and compensation: Hyper-V errors keep their category and transient flag, storage outages are
transient, everything else is permanent. The inventory sync's batch activity
(:data:`functions.provisioning.contracts.INVENTORY_COLLECT_HOSTS`) syncs its hosts at once, each as the one-host
activity does, and reports a host whose sync kept failing in that host's summary with the same translation.

Every activity runs in its span (:func:`functions.telemetry.activity_span`: the activity, its job and host, in the
job's trace), failed with the StepError's category; host syncs are recorded in the host metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from typing import Any, TypeVar

import azure.durable_functions as df
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from functions.errors import DomainError, StepError
from functions.guest.errors import GuestAlreadyProvisionedError, GuestProtocolError
from functions.hyperv.errors import HyperVError
from functions.inventory.batch import sync_batch
from functions.inventory.sync import HostSync
from functions.joblog.capture import Capture, capturing
from functions.joblog.store import JobLog
from functions.models.durable import Activity
from functions.models.inventory import HostBatch, HostSyncSummary
from functions.provisioning import contracts as c
from functions.provisioning.payloads import PruneResult
from functions.provisioning.steps import Provisioner
from functions.sealing import SealError
from functions.settings import SettingsError
from functions.telemetry import activity_span, carried, mark_failed, record_host_syncs

__all__ = ["activities_blueprint", "register_activity", "step_error"]

log = logging.getLogger(__name__)
P = TypeVar("P")
R = TypeVar("R")


def step_error(exc: Exception, where: str) -> StepError:
    """The :class:`StepError` an activity fails with for ``exc`` (raised in step ``where``)."""
    if isinstance(exc, StepError):
        return exc
    if isinstance(exc, HyperVError):
        return StepError(type(exc).__name__, str(exc), transient=exc.transient)
    if isinstance(exc, GuestAlreadyProvisionedError):
        return StepError("GuestAlreadyProvisioned", str(exc))
    if isinstance(exc, GuestProtocolError):
        return StepError("GuestProtocolError", str(exc))
    if isinstance(exc, SealError):
        return StepError("SealError", str(exc))
    if isinstance(exc, SettingsError):
        return StepError("NotConfigured", "the app's settings are invalid; see /api/readyz", transient=True)
    if isinstance(exc, DomainError):
        return StepError(exc.category, exc.message, transient=exc.transient)
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return StepError("StorageUnavailable", type(exc).__name__, transient=True)
    if isinstance(exc, HttpResponseError):
        transient = exc.status_code is None or exc.status_code >= 500 or exc.status_code == 429
        return StepError("StorageError", f"HTTP {exc.status_code}", transient=transient)
    log.exception("step %s failed unexpectedly", where)
    return StepError("InternalError", f"{type(exc).__name__} in {where}")


def _host_error(exc: Exception) -> str:
    """What a host's summary says about the exception its sync kept raising (as a failed activity would)."""
    error = step_error(exc, c.INVENTORY_COLLECT_HOSTS.name)
    return f"{error.category}: {error.message}"


def register_activity(
    bp: df.Blueprint,
    activity: Activity[P, R],
    handler: Callable[[P], R],
    job_log: Callable[[], JobLog] | None = None,
) -> None:
    """Register ``handler`` as ``activity``'s trigger on ``bp``: payload decoded, result encoded, failure translated.

    With ``job_log``, a run whose payload names a job (``job_id``) writes what it collected to that job's log when
    it ends (:mod:`functions.joblog.capture`): its host's script output, guest state changes, and its failure.
    """

    def run(payload: Any) -> Any:
        with activity_span(activity.name, payload) as span:
            try:
                decoded = activity.payload.load(payload)
            except Exception as exc:
                error = step_error(exc, activity.name)
                mark_failed(span, error.category, transient=error.transient)
                raise error from exc
            job_id = getattr(decoded, "job_id", None)
            keep_log = job_log is not None and isinstance(job_id, str)
            collecting = capturing(str(job_id), step=activity.name, host=getattr(decoded, "host", None))
            with collecting if keep_log else nullcontext(None) as capture:
                try:
                    return activity.result.dump(handler(decoded))
                except Exception as exc:
                    error = step_error(exc, activity.name)
                    mark_failed(span, error.category, transient=error.transient)
                    if capture is not None:
                        retried = " (transient: the step is retried)" if error.transient else ""
                        capture.add(
                            "warning" if error.transient else "error",
                            "workflow",
                            f"{activity.name} failed: {error.category}: {error.message}{retried}",
                        )
                    raise error from exc
                finally:
                    if capture is not None and job_log is not None:
                        _store_log(job_log, capture)

    run.__name__ = run.__qualname__ = activity.name
    run.__doc__ = f"Activity {activity.name}."
    bp.function_name(name=activity.name)(bp.activity_trigger(input_name="payload")(run))


def _store_log(job_log: Callable[[], JobLog], capture: Capture) -> None:
    """Write what a run collected; a failure to write is logged, never the run's (the log is not the work)."""
    entries = capture.collected()
    if not entries:
        return
    try:
        job_log().append(capture.job_id, entries)
    except Exception:
        log.warning("could not write %d entries to the log of job %s", len(entries), capture.job_id, exc_info=True)


def activities_blueprint(
    provisioner: Callable[[], Provisioner],
    sync: Callable[[], HostSync],
    threads: Callable[[], Executor],
    job_log: Callable[[], JobLog] | None = None,
) -> df.Blueprint:
    """A blueprint with every activity; the callables give the services, the host-sync threads and the job log."""
    bp = df.Blueprint()

    def register(activity: Activity[P, R], handler: Callable[[P], R]) -> None:
        register_activity(bp, activity, handler, job_log)

    register_activity(bp, c.JOB_UPDATE, lambda p: provisioner().job_update(p))  # the job store logs its own writes
    register(c.VM_PLACE, lambda p: provisioner().place(p))
    register(c.VM_PREFLIGHT, lambda p: provisioner().preflight(p))
    register(c.VM_PREPARE_DISK, lambda p: provisioner().prepare_disk(p))
    register(c.HOST_OPERATION_START, lambda p: provisioner().start_operation(p))
    register(c.HOST_OPERATION_STATUS, lambda p: provisioner().operation_status(p))
    register(c.HOST_OPERATION_STOP, lambda p: provisioner().stop_operation(p))
    register(c.VM_CREATE, lambda p: provisioner().create(p))
    register(c.VM_START_AND_ANNOUNCE, lambda p: provisioner().start_and_announce(p))
    register(c.VM_GUEST_STATUS, lambda p: provisioner().guest_status(p))
    register(c.VM_PUBLISH_GUEST_DATA, lambda p: provisioner().publish_guest_data(p))
    register(c.VM_SIGNAL_PUBLISHED, lambda p: provisioner().signal_published(p))
    register(c.VM_FINISH_GUEST, lambda p: provisioner().finish_guest(p))
    register(c.VM_CLUSTER_ADD, lambda p: provisioner().cluster_add(p))
    register(c.VM_CLUSTER_REMOVE, lambda p: provisioner().cluster_remove(p))
    register(c.VM_CLEANUP, lambda p: provisioner().cleanup(p))
    register(c.VM_REFRESH_AND_DESCRIBE, lambda p: provisioner().refresh_and_describe(p))
    register(c.VM_REMOVE, lambda p: provisioner().remove(p))
    register(c.VM_POWER, lambda p: provisioner().power(p))
    register(c.VM_CHANGE, lambda p: provisioner().change(p))
    register(c.VM_RECORD_CLEANUP_DEBT, lambda p: provisioner().record_cleanup_debt(p))
    register(c.INVENTORY_COLLECT_HOST, lambda host: _synced(provisioner().sync_host(host)))
    register(c.INVENTORY_COLLECT_HOSTS, lambda batch: _sync_batch(provisioner(), threads(), batch))
    register(c.IP_POOL_BIND_VM, lambda p: provisioner().pool_bind_vm(p))
    register(c.IP_POOL_RELEASE, lambda p: provisioner().pool_release(p))
    register(c.INVENTORY_PRUNE, lambda hosts: PruneResult(deleted=sync().prune(hosts)))
    return bp


def _sync_batch(steps: Provisioner, threads: Executor, batch: HostBatch) -> tuple[HostSyncSummary, ...]:
    """Every host of ``batch`` synced at once, each as the one-host activity syncs it."""
    summaries = sync_batch(
        batch.hosts, carried(steps.sync_host), report_by=batch.report_by, threads=threads, describe=_host_error
    )
    record_host_syncs(summaries)
    return summaries


def _synced(summary: HostSyncSummary) -> HostSyncSummary:
    """``summary``, recorded in the host metrics (connected, sync duration, inventory age)."""
    record_host_syncs((summary,))
    return summary
