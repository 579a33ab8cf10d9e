"""The named contracts between orchestrators, activities and the code that starts workflows.

Each :class:`Activity` and :class:`Orchestration` names a Durable function once and says what it takes and returns
(a :class:`Codec` to and from the JSON stored in orchestration history). Orchestrators call activities through
these, activity triggers are registered under these names, and the workflow starter starts orchestrations through
them — so an activity's name and payload shape are written in one place and checked by the type checker on both
sides, and the orchestrators never import the activity implementations (which need the app's services).
"""

from __future__ import annotations

from typing import Any

from functions.hyperv.models import ClusterChange, HostOperation, OperationStopped, PowerResult, PreparedDisk
from functions.models.durable import (
    HOST_NAME,
    HOST_NAMES,
    NOTHING,
    Activity,
    Codec,
    Orchestration,
    json_codec,
    model_codec,
    optional,
)
from functions.models.inventory import HostBatch, HostSyncSummary
from functions.provisioning.changes import ChangeInput, ChangePayload, ChangeResult
from functions.provisioning.guest_payloads import (
    GuestCheck,
    GuestFinished,
    GuestStatusResult,
    GuestWaitInput,
    PublishPayload,
    PublishResult,
    StartPayload,
    StartResult,
)
from functions.provisioning.leases import LeaseArm, LeaseCheck, LeaseInput, LeaseStep
from functions.provisioning.payloads import (
    CleanupPayload,
    CleanupResult,
    CreatedVm,
    CreatePayload,
    DebtPayload,
    DebtRecorded,
    JobUpdate,
    JobUpdateResult,
    OperationRef,
    Placement,
    PlacePayload,
    PowerPayload,
    PreflightPayload,
    PreflightResult,
    PrepareDiskPayload,
    PruneResult,
    RemovedVm,
    StartOperationPayload,
    VmSummary,
    VmTarget,
)
from functions.provisioning.workflow_data import CreateInput, LifecycleInput, PoolAddress, SyncInput

__all__ = [
    "ACTIVITIES",
    "CHANGE_VM",
    "CREATE_VM",
    "DELETE_VM",
    "EVENTS_DELIVER",
    "EVENTS_PUMP",
    "GUEST_WAIT",
    "INVENTORY_SYNC",
    "ORCHESTRATIONS",
    "POWER_VM",
    "VM_LEASE",
]

_TARGET = json_codec(VmTarget.from_json)

# -- the activities (names are part of the history of instances in flight: never rename one) ----------------------

JOB_UPDATE = Activity("job_update", json_codec(JobUpdate.from_json), json_codec(JobUpdateResult.from_json))
VM_PLACE = Activity("vm_place", json_codec(PlacePayload.from_json), json_codec(Placement.from_json))
VM_PREFLIGHT = Activity(
    "vm_preflight",
    json_codec(PreflightPayload.from_json),
    json_codec(PreflightResult.from_json),
)
VM_PREPARE_DISK = Activity("vm_prepare_disk", json_codec(PrepareDiskPayload.from_json), model_codec(PreparedDisk))
_OPERATION = json_codec(OperationRef.from_json)
HOST_OPERATION_START = Activity(
    "host_operation_start", json_codec(StartOperationPayload.from_json), model_codec(HostOperation)
)
HOST_OPERATION_STATUS = Activity("host_operation_status", _OPERATION, model_codec(HostOperation))
HOST_OPERATION_STOP = Activity("host_operation_stop", _OPERATION, model_codec(OperationStopped))
VM_CREATE = Activity("vm_create", json_codec(CreatePayload.from_json), json_codec(CreatedVm.from_json))
VM_START_AND_ANNOUNCE = Activity(
    "vm_start_and_announce",
    json_codec(StartPayload.from_json),
    json_codec(StartResult.from_json),
)
VM_GUEST_STATUS = Activity("vm_guest_status", json_codec(GuestCheck.from_json), json_codec(GuestStatusResult.from_json))
VM_PUBLISH_GUEST_DATA = Activity(
    "vm_publish_guest_data",
    json_codec(PublishPayload.from_json),
    json_codec(PublishResult.from_json),
)
VM_SIGNAL_PUBLISHED = Activity("vm_signal_published", _TARGET, NOTHING)
VM_FINISH_GUEST = Activity("vm_finish_guest", _TARGET, json_codec(GuestFinished.from_json))
VM_CLUSTER_ADD = Activity("vm_cluster_add", _TARGET, model_codec(ClusterChange))
VM_CLUSTER_REMOVE = Activity("vm_cluster_remove", _TARGET, model_codec(ClusterChange))
VM_CLEANUP = Activity("vm_cleanup", json_codec(CleanupPayload.from_json), json_codec(CleanupResult.from_json))
VM_RECORD_CLEANUP_DEBT = Activity(
    "vm_record_cleanup_debt", json_codec(DebtPayload.from_json), json_codec(DebtRecorded.from_json)
)
VM_REFRESH_AND_DESCRIBE = Activity("vm_refresh_and_describe", _TARGET, optional(json_codec(VmSummary.from_json)))
VM_REMOVE = Activity("vm_remove", _TARGET, json_codec(RemovedVm.from_json))
VM_POWER = Activity("vm_power", json_codec(PowerPayload.from_json), model_codec(PowerResult))
VM_CHANGE = Activity("vm_change", json_codec(ChangePayload.from_json), json_codec(ChangeResult.from_json))
"""One day-2 change on the host (resize, disk, adapter, checkpoint, migration): see ``change_steps``."""
INVENTORY_COLLECT_HOST = Activity("inventory_collect_host", HOST_NAME, json_codec(HostSyncSummary.from_json))
_SUMMARIES: Codec[tuple[HostSyncSummary, ...]] = Codec(
    lambda summaries: [summary.to_json() for summary in summaries],
    lambda value: tuple(HostSyncSummary.from_json(item) for item in value),
)
INVENTORY_COLLECT_HOSTS = Activity("inventory_collect_hosts", json_codec(HostBatch.from_json), _SUMMARIES)
"""Sync a batch of hosts at once; one summary per host, in the batch's order."""
INVENTORY_PRUNE = Activity("inventory_prune", HOST_NAMES, json_codec(PruneResult.from_json))
_FLAG: Codec[bool] = Codec(bool, bool)
IP_POOL_BIND_VM = Activity("ip_pool_bind_vm", json_codec(PoolAddress.from_json), _FLAG)
"""Record the new VM's id on the address its create job holds in an IP pool (repeatable)."""
IP_POOL_RELEASE = Activity("ip_pool_release", json_codec(PoolAddress.from_json), _FLAG)
"""Give back the address a failed or canceled create job holds in an IP pool (repeatable)."""
_LEASE_STEP = json_codec(LeaseStep.from_json)
_TEXT: Codec[str | None] = Codec(lambda v: v, lambda v: None if v is None else str(v))
EVENTS_DELIVER = Activity("events_deliver", NOTHING, Codec(float, float))
"""One delivery pass over the event outbox; seconds until the next pass is due (negative: no sink is configured)."""
LEASE_CHECK = Activity("lease_check", _LEASE_STEP, json_codec(LeaseCheck.from_json))
"""Read a VM's lease (a lease whose VM is gone ends here)."""
LEASE_WARN = Activity("lease_warn", _LEASE_STEP, Codec(bool, bool))
"""Record the warning before expiry (once per lease version)."""
LEASE_EXPIRE = Activity("lease_expire", _LEASE_STEP, _TEXT)
"""Submit the VM's delete job at expiry (its id, or null)."""
LEASE_ARM = Activity("lease_arm", json_codec(LeaseArm.from_json), NOTHING)
"""Give a VM its create's lease and start its lease workflow."""

ACTIVITIES: tuple[Activity[Any, Any], ...] = (
    JOB_UPDATE,
    VM_PLACE,
    VM_PREFLIGHT,
    VM_PREPARE_DISK,
    HOST_OPERATION_START,
    HOST_OPERATION_STATUS,
    HOST_OPERATION_STOP,
    VM_CREATE,
    VM_START_AND_ANNOUNCE,
    VM_GUEST_STATUS,
    VM_PUBLISH_GUEST_DATA,
    VM_SIGNAL_PUBLISHED,
    VM_FINISH_GUEST,
    VM_CLUSTER_ADD,
    VM_CLUSTER_REMOVE,
    VM_CLEANUP,
    VM_RECORD_CLEANUP_DEBT,
    VM_REFRESH_AND_DESCRIBE,
    VM_REMOVE,
    VM_POWER,
    VM_CHANGE,
    INVENTORY_COLLECT_HOST,
    INVENTORY_COLLECT_HOSTS,
    INVENTORY_PRUNE,
    IP_POOL_BIND_VM,
    IP_POOL_RELEASE,
    LEASE_CHECK,
    LEASE_WARN,
    LEASE_EXPIRE,
    LEASE_ARM,
    EVENTS_DELIVER,
)

# -- the orchestrations ------------------------------------------------------------------------------------------

CREATE_VM = Orchestration("create_vm", json_codec(CreateInput.from_json))
GUEST_WAIT = Orchestration("create_vm_guest_wait", json_codec(GuestWaitInput.from_json))
DELETE_VM = Orchestration("delete_vm", json_codec(LifecycleInput.from_json))
POWER_VM = Orchestration("power_vm", json_codec(LifecycleInput.from_json))
CHANGE_VM = Orchestration("change_vm", json_codec(ChangeInput.from_json))
INVENTORY_SYNC = Orchestration("inventory_sync", json_codec(SyncInput.from_json))
VM_LEASE = Orchestration("vm_lease", json_codec(LeaseInput.from_json))
EVENTS_PUMP = Orchestration("events_pump", NOTHING)

ORCHESTRATIONS: tuple[Orchestration[Any], ...] = (
    CREATE_VM,
    GUEST_WAIT,
    DELETE_VM,
    POWER_VM,
    CHANGE_VM,
    INVENTORY_SYNC,
    VM_LEASE,
    EVENTS_PUMP,
)
