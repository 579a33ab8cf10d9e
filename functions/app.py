"""The composition root: reads settings once, builds every client and service once, and registers the blueprints.

This is the only module that reads settings (:func:`functions.settings.load_settings`) and the only place that
wires collaborators together. :func:`create_app` never raises: building happens on first use, in
:class:`Container`, so a bad setting never costs the app its functions (Azure indexes zero functions of an app whose
import raises). With invalid settings ``/api/healthz`` still answers, ``/api/readyz`` lists every problem, other
routes answer 503 problem+json, and activities fail with ``NotConfigured``.

Tests build the graph they need the same way: ``Container(env)``, or the constructors directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property

import azure.durable_functions as df
import azure.functions as func
from azure.data.tables import TableServiceClient

from functions.api import (
    docs,
    event_routes,
    fallback,
    inventory_routes,
    ip_pool_routes,
    job_routes,
    lease_routes,
    vm_change_routes,
    vm_routes,
)
from functions.api import health as health_routes
from functions.api.http import Api
from functions.audit.log import AuditLog
from functions.auth import Authenticator, startup_warning
from functions.dashboard import routes as dashboard_routes
from functions.events.delivery import EventDelivery
from functions.events.emitters import EventEmitter, JobEvents
from functions.events.outbox import EventOutbox
from functions.events.sinks import configured_sinks
from functions.hyperv.connector import HostConnector
from functions.inventory.batch import host_threads
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import HostSync
from functions.ippools.store import PoolStore
from functions.joblog.store import JobLog
from functions.joblog.writer import JobLogWriter
from functions.jobs.debts import CleanupDebts
from functions.jobs.records import JobObserver, JobStore
from functions.jobs.submission import JobSubmitter
from functions.leases.store import LeaseStore
from functions.provisioning import contracts as c
from functions.provisioning.steps import Provisioner
from functions.provisioning.workflow_data import Timing
from functions.services.audit import AuditTrail
from functions.services.bundle import Services
from functions.services.events import EventService
from functions.services.hosts import HostService
from functions.services.inventory import InventoryService
from functions.services.ip_pools import PoolService
from functions.services.jobs import JobService
from functions.services.leases import LeaseService, LeaseTiming
from functions.services.vm_changes import VmChangeService
from functions.services.vms import VmService
from functions.settings import SETTINGS, Settings, SettingsError, load_settings, load_telemetry
from functions.storage import build_table_service, managed_identity
from functions.telemetry import configure as configure_telemetry
from functions.telemetry.jobs import JobTelemetry
from functions.workflows import change_vm, create_vm, events, guest_wait, inventory, lease, lifecycle, throttle
from functions.workflows.activities import activities_blueprint
from functions.workflows.event_activities import event_activities_blueprint
from functions.workflows.lease_activities import lease_activities_blueprint
from functions.workflows.starter import in_thread

__all__ = ["Container", "create_app"]

log = logging.getLogger("aetherv")
_DEFAULT_SCHEDULE = next(spec.default for spec in SETTINGS if spec.name == "AETHERV_INVENTORY_SCHEDULE") or ""


class Container:
    """The process's object graph, each part built once on first use (thread-safe)."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._lock = threading.RLock()
        self._settings: Settings | None = None
        self._problem: SettingsError | None = None

    def settings(self) -> Settings:
        """The validated settings, read once; raises :class:`SettingsError` (every problem) while they are invalid."""
        with self._lock:
            if self._settings is None and self._problem is None:
                try:
                    self._settings = load_settings(self._env)
                except SettingsError as exc:
                    self._problem = exc
                    log.error("%s", exc)
            if self._problem is not None:
                raise self._problem
            assert self._settings is not None
            return self._settings

    @cached_property
    def table_service(self) -> TableServiceClient:
        """The one Table Storage client (no I/O until the first request)."""
        return build_table_service(self.settings().storage)

    @cached_property
    def connector(self) -> HostConnector:
        """The configured Hyper-V hosts."""
        settings = self.settings()
        return HostConnector(settings.winrm, settings.hosts, settings.host_addresses)

    @cached_property
    def repository(self) -> InventoryRepository:
        """The inventory tables."""
        return InventoryRepository(self.table_service, self.settings().storage.table_prefix)

    @cached_property
    def job_store(self) -> JobStore:
        """The job tables; what they store is announced as events."""
        observers: list[JobObserver] = [JobTelemetry(), JobEvents(self.emitter), JobLogWriter(self.get_job_log)]
        return JobStore(self.table_service, self.settings().storage.table_prefix, observers=observers)

    @cached_property
    def job_log(self) -> JobLog:
        """The job log table."""
        return JobLog(self.table_service, self.settings().storage.table_prefix)

    def get_job_log(self) -> JobLog:
        """:attr:`job_log`, built under the lock the first time."""
        with self._lock:
            return self.job_log

    @cached_property
    def event_delivery(self) -> EventDelivery:
        """The event outbox and the configured sinks (webhooks, Event Grid)."""
        settings = self.settings()
        outbox = EventOutbox(self.table_service, settings.storage.table_prefix)
        sinks = configured_sinks(settings.events, lambda: managed_identity(settings.storage.managed_identity_client_id))
        return EventDelivery(outbox, sinks, horizon=settings.events.retry_horizon_seconds)

    @cached_property
    def emitter(self) -> EventEmitter:
        """Stores events for the configured sinks (nothing when there are none)."""
        delivery = self.event_delivery
        return EventEmitter(delivery.outbox, delivery.sink_ids)

    @cached_property
    def debts(self) -> CleanupDebts:
        """Cleanup debts: compensation that waits for its host."""
        return CleanupDebts(self.table_service, self.settings().storage.table_prefix)

    @cached_property
    def pool_store(self) -> PoolStore:
        """The IP pool table (definitions and allocations)."""
        return PoolStore(self.table_service, self.settings().storage.table_prefix)

    @cached_property
    def host_sync(self) -> HostSync:
        """The per-host inventory sync."""
        return HostSync(self.connector, self.repository, debts=self.debts, emit=self.emitter.emit)

    @cached_property
    def host_threads(self) -> ThreadPoolExecutor:
        """The threads that sync the hosts of the inventory sync's batches, kept between syncs."""
        return host_threads()

    @cached_property
    def provisioner(self) -> Provisioner:
        """The workflow steps."""
        return Provisioner(
            self.connector,
            inventory=self.repository,
            sync=self.host_sync,
            jobs=self.job_store,
            debts=self.debts,
            seal_key=self.settings().seal_key,
            pools=self.pool_store,
        )

    @cached_property
    def submitter(self) -> JobSubmitter:
        """Job submission; Idempotency-Key fingerprints are keyed with a key derived from the sealing key."""
        seal_key = base64.b64decode(self.settings().seal_key.reveal())
        key = hmac.new(seal_key, b"aetherv idempotency fingerprint v1", hashlib.sha256).digest()
        return JobSubmitter(self.job_store, key)

    @cached_property
    def services(self) -> Services:
        """Every service, wired."""
        settings = self.settings()
        audit = AuditTrail(AuditLog(self.table_service, settings.storage.table_prefix))
        guest = settings.guest
        timing = Timing(
            key_timeout=guest.key_timeout,
            apply_timeout=guest.apply_timeout,
            poll_interval=guest.poll_interval,
            publish_delay=guest.publish_delay,
            clone_slots=settings.clone_concurrency,
            retry_attempts=settings.step_retry_attempts,
            retry_first_interval=settings.step_retry_seconds,
            address_timeout=guest.address_timeout,
            disk_timeout=settings.disk_prepare_timeout,
            host_poll_interval=settings.host_operation_poll_interval,
        )
        winrm = settings.winrm
        pools = PoolService(self.pool_store, self.repository, audit, self.job_store)
        vms = VmService(
            self.repository,
            self.connector,
            self.submitter,
            audit,
            timing=timing,
            seal_key=settings.seal_key,
            approval=settings.approval,
            pools=pools,
            lease_max_hours=settings.leases.max_hours,
            placer=self.provisioner.place,
        )
        lease_timing = LeaseTiming(
            max_hours=settings.leases.max_hours,
            warning_seconds=settings.leases.warning_seconds,
            check_seconds=settings.leases.check_seconds,
        )
        # Worst case for one host: connect, then one long receive, twice over (one script run per host).
        sync_deadline = 2 * (winrm.connect_timeout + winrm.read_timeout) + 60
        return Services(
            authenticator=Authenticator(settings.auth),
            auth_settings=settings.auth,
            audit=audit,
            vms=vms,
            hosts=HostService(self.repository, self.connector, audit),
            inventory=InventoryService(
                self.repository,
                self.connector,
                self.submitter,
                audit,
                sync_deadline=sync_deadline,
                hosts_per_activity=settings.inventory_hosts_per_activity,
            ),
            jobs=JobService(self.job_store, self.submitter, audit, log=self.job_log),
            changes=VmChangeService(
                self.repository,
                self.connector,
                self.submitter,
                audit,
                timing=timing,
                migration_max_storage_gb=settings.migration_max_storage_gb,
            ),
            pools=pools,
            leases=LeaseService(
                LeaseStore(self.table_service, settings.storage.table_prefix),
                self.repository,
                self.job_store,
                vms,
                audit,
                timing=lease_timing,
                emit=self.emitter.emit,
            ),
            events=EventService(self.event_delivery, audit),
        )

    def get_services(self) -> Services:
        """:attr:`services`, built under the lock the first time."""
        with self._lock:
            return self.services

    def get_leases(self) -> LeaseService:
        """The lease service of :attr:`services`."""
        leases = self.get_services().leases
        assert leases is not None
        return leases

    def get_events(self) -> EventService:
        """The event service of :attr:`services`."""
        events = self.get_services().events
        assert events is not None
        return events

    def get_provisioner(self) -> Provisioner:
        """:attr:`provisioner`, built under the lock the first time."""
        with self._lock:
            return self.provisioner

    def get_host_threads(self) -> ThreadPoolExecutor:
        """:attr:`host_threads`, built under the lock the first time."""
        with self._lock:
            return self.host_threads

    def get_host_sync(self) -> HostSync:
        """:attr:`host_sync`, built under the lock the first time."""
        with self._lock:
            return self.host_sync

    def storage_reachable(self) -> bool:
        """Whether Table Storage answers a minimal request with the configured credentials."""
        try:
            with self._lock:
                service = self.table_service
            next(iter(service.list_tables(results_per_page=1)), None)
        except Exception:
            log.warning("readiness: storage is not reachable", exc_info=True)
            return False
        return True


KEEPER_SCHEDULE = "30 * * * * *"
"""When the event pump's keeper looks at it (every minute)."""
_RUNNING = frozenset({"Pending", "Running", "ContinuedAsNew"})


def _schedule(container: Container) -> str:
    try:
        return container.settings().inventory_schedule
    except SettingsError:
        return _DEFAULT_SCHEDULE


def _register_timer(app: df.DFApp, container: Container) -> None:
    async def inventory_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
        """Timer: start a sync of every host unless the previous one is still running."""
        submission = await in_thread(client, container.get_services().inventory.scheduled_refresh)
        if not submission.created:
            log.info("inventory sync %s is still running; this tick is skipped", submission.job.id)

    with_client = app.durable_client_input(client_name="client")(inventory_timer)
    app.timer_trigger(schedule=_schedule(container), arg_name="timer", run_on_startup=True)(with_client)

    async def events_keeper(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
        """Timer: keep the event pump running while an event sink is configured."""
        try:
            if not container.settings().events.enabled:
                return
        except SettingsError:
            return
        status = await client.get_status(events.PUMP_INSTANCE)
        if status and status.runtime_status is not None and status.runtime_status.value in _RUNNING:
            return
        await client.start_new(c.EVENTS_PUMP.name, events.PUMP_INSTANCE, None)
        log.info("started the event pump")

    keeper = app.durable_client_input(client_name="client")(events_keeper)
    app.timer_trigger(schedule=KEEPER_SCHEDULE, arg_name="timer", run_on_startup=True)(keeper)


def _start_telemetry(env: Mapping[str, str] | None) -> None:
    """Set telemetry up from its own settings (once per process); invalid ones leave it off (readyz says why)."""
    try:
        configure_telemetry(load_telemetry(env))
    except SettingsError as exc:
        log.error("telemetry is off: %s", exc)


def create_app(env: Mapping[str, str] | None = None) -> df.DFApp:
    """The Functions app: every blueprint, wired to one :class:`Container` (``env``: the process environment)."""
    _start_telemetry(env)
    container = Container(env)
    try:
        warning = startup_warning(container.settings())
    except SettingsError:
        warning = None
    if warning:
        log.warning(warning)
    # The storage SDK logs every HTTP request at INFO; keep the app's log about the app.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    api = Api(container.get_services)
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (
        health_routes.blueprint(container.settings, container.storage_reachable),
        docs.bp,
        inventory_routes.blueprint(api),
        vm_routes.blueprint(api),
        vm_change_routes.blueprint(api),
        job_routes.blueprint(api),
        ip_pool_routes.blueprint(api),
        lease_routes.blueprint(api),
        event_routes.blueprint(api),
        fallback.bp,
        inventory.bp,
        create_vm.bp,
        guest_wait.bp,
        lifecycle.bp,
        change_vm.bp,
        throttle.bp,
        lease.bp,
        events.bp,
        event_activities_blueprint(container.get_events),
        lease_activities_blueprint(container.get_leases),
        activities_blueprint(
            container.get_provisioner, container.get_host_sync, container.get_host_threads, container.get_job_log
        ),
        dashboard_routes.blueprint(lambda: container.settings().auth),
    ):
        app.register_functions(blueprint)
    _register_timer(app, container)
    return app
