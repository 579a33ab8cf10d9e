"""The inventory service: the summary the API shows, and refresh jobs (from the API and from the schedule).

Every sync runs as a ``refresh_inventory`` job under one instance-id scheme (``refresh-inventory-<scope>-<n>``),
whoever starts it: a caller of ``POST /api/v1/inventory/refresh`` or the schedule (requested by the system). While
a sync of the same scope runs, a new request returns it. Each collect activity of a sync takes
``hosts_per_activity`` hosts (``AETHERV_INVENTORY_HOSTS_PER_ACTIVITY``) and syncs them at once.
"""

from __future__ import annotations

from functions.errors import HostNotConfigured
from functions.hyperv.connector import HostConnector
from functions.inventory.repository import InventoryRepository
from functions.jobs.submission import JobRequest, JobSubmitter, Submission, WorkflowClient
from functions.models.inventory import InventorySummary
from functions.models.jobs import Job, JobTarget, Requester
from functions.provisioning.contracts import INVENTORY_SYNC
from functions.provisioning.workflow_data import SyncInput
from functions.services.audit import AuditTrail, Caller

__all__ = ["SCHEDULE", "InventoryService"]

SCHEDULE = Requester(id="system:inventory-schedule", name="inventory schedule", type="system")
"""The requester of the syncs the timer starts."""


class InventoryService:
    """Inventory reads and refreshes (see the module docstring)."""

    def __init__(
        self,
        inventory: InventoryRepository,
        connector: HostConnector,
        submitter: JobSubmitter,
        audit: AuditTrail,
        *,
        sync_deadline: float,
        hosts_per_activity: int = 1,
    ) -> None:
        self.inventory = inventory
        self.connector = connector
        self.submitter = submitter
        self.audit = audit
        self.sync_deadline = sync_deadline
        self.hosts_per_activity = hosts_per_activity

    def summary(self) -> InventorySummary:
        """Totals, clusters and hosts."""
        return self.inventory.summary()

    def refresh(self, workflows: WorkflowClient, host: str | None, caller: Caller) -> Job:
        """Refresh every host (and prune the others), or one; returns the sync's job."""
        with self.audit.write(caller, "refresh_inventory", {"host": host}) as record:
            record.job = (self._submit(workflows, host, caller.requester)).job
        return record.job

    def scheduled_refresh(self, workflows: WorkflowClient) -> Submission:
        """The timer's sync of every host; a sync still running is returned instead of a new one."""
        return self._submit(workflows, None, SCHEDULE)

    def _submit(self, workflows: WorkflowClient, host: str | None, requester: Requester) -> Submission:
        if host is not None and not self.connector.is_configured(host):
            raise HostNotConfigured(host)
        hosts = (self.connector.endpoint(host).name,) if host is not None else self.connector.names
        return self.submitter.submit(
            workflows,
            JobRequest(
                kind="refresh_inventory",
                orchestration=INVENTORY_SYNC,
                target=JobTarget(host=host),
                claim=(host or "all").lower(),
                build_input=lambda job_id: SyncInput(
                    hosts=hosts,
                    prune=host is None,
                    deadline_seconds=self.sync_deadline,
                    job_id=job_id,
                    hosts_per_activity=self.hosts_per_activity,
                ),
                requested_by=requester,
                body={"refresh": host},
            ),
        )
