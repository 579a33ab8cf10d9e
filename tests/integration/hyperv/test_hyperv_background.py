"""Background operations through the real client stack: a disk copy that outlives the WinRM call that started it.

``start_operation`` launches the copy as a scheduled task on the (simulated) host and returns at once; the copy
takes ``size / rate`` seconds of the lab's manual clock whoever is connected meanwhile; ``operation_status`` reads
its progress; the same id started twice is found, not copied twice; a worker that fails or dies is reported; stop
and compensation end it and leave nothing behind.
"""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import (
    ImageNotFound,
    InvalidParameters,
    OperationNotFound,
    ScriptFailed,
    VmAlreadyExists,
)
from functions.hyperv.models import HostOperation, PreparedDisk, PrepareDiskSpec
from tests.integration.hyperv.conftest import ClientFactory
from tools.hvsim.lab import LabHost
from tools.hvsim.models import GB, CopyFault, ManualClock

UBUNTU = "Ubuntu 24.04 LTS"  # 3.1 GB file, 30 GB virtual
FOLDER = "C:\\Hyper-V\\app42"
DISK = FOLDER + "\\app42.vhdx"


def spec(name: str = "app42", job: str = "job-1", **extra: object) -> PrepareDiskSpec:
    return PrepareDiskSpec.model_validate(
        {"vm_name": name, "job_id": job, "image_name": UBUNTU, "disk_gb": 64, **extra}
    )


@pytest.fixture
def slow(standalone: LabHost) -> LabHost:
    """hv03 copying at 1 GB per second of the lab clock (the Ubuntu image takes 3.1 s)."""
    standalone.model.background.rate = 1 * GB
    return standalone


def status(hv: HyperVClient, operation: HostOperation) -> HostOperation:
    return hv.operation_status(operation.id, operation.folder)


def test_the_copy_goes_on_after_the_call_returns_and_reports_progress(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    assert (started.state, started.folder, started.bytes_done) == ("running", FOLDER, 0)
    image = slow.model.fs.get("C:\\Hyper-V\\DiskImages\\" + UBUNTU + ".vhdx")
    assert image is not None
    assert started.bytes_total == image.size
    assert slow.model.background.task(started.id) is not None  # a scheduled task runs the worker
    assert not slow.model.fs.exists(DISK)

    lab_clock.advance(1.55)
    half = status(hv, started)
    assert half.state == "running"
    assert half.percent == pytest.approx(100 * 1.55 * GB / image.size, abs=0.1)
    assert slow.model.fs.is_held(DISK + ".partial")  # the worker holds its copy open

    lab_clock.advance(2)  # nobody asks about it meanwhile: the copy finishes on its own
    hv.list_switches()  # (the simulated host applies what its workers did when it is next looked at)
    assert slow.model.fs.exists(DISK)
    assert not slow.model.fs.exists(DISK + ".partial")
    done = status(hv, started)
    assert (done.state, done.percent, done.bytes_done) == ("succeeded", 100.0, image.size)
    disk = PreparedDisk.model_validate(done.result)
    assert (disk.path, disk.size_gb, disk.created, disk.image_name) == (DISK, 64, True, UBUNTU)
    assert slow.model.background.task(started.id) is None  # its task is unregistered once it has ended
    names = sorted(file.path.rsplit("\\", 1)[1] for file in slow.model.fs.walk_files(FOLDER))
    operation = ".aetherv-op.job-1.prepare_disk.1"
    assert names == [".aetherv-job", operation + ".json", operation + ".ps1", "app42.vhdx"]


def test_starting_the_same_operation_again_finds_it_and_never_copies_twice(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    first = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    lab_clock.advance(1)
    again = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    assert again.id == first.id
    assert again.state == "running"
    assert again.bytes_done == 1 * GB
    assert slow.model.background.started == ["job-1.prepare_disk.1"]
    lab_clock.advance(5)
    finished = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    assert finished.state == "succeeded"
    assert slow.model.background.started == ["job-1.prepare_disk.1"]


def test_the_copy_survives_a_restart_of_the_winrm_listener(
    connect: ClientFactory, slow: LabHost, lab_clock: ManualClock
) -> None:
    with connect("hv03") as hv:
        started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    slow.server.stop()  # Restart-Service WinRM: every shell is gone
    lab_clock.advance(1)
    slow.server.start()
    lab_clock.advance(3)
    with connect("hv03") as hv:
        done = status(hv, started)
    assert done.state == "succeeded"


def test_a_copy_that_fails_midway_is_reported_and_a_new_attempt_succeeds(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    slow.model.background.faults.append(CopyFault(at_percent=40, message="The semaphore timeout period has expired."))
    first = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    lab_clock.advance(3)
    failed = status(hv, first)
    assert failed.state == "failed"
    assert failed.error is not None
    assert (failed.error.category, failed.error.message) == (
        "HostOperationFailed",
        "The semaphore timeout period has expired.",
    )
    assert failed.percent == pytest.approx(40, abs=0.1)
    assert not slow.model.fs.is_held(DISK + ".partial")  # the worker is gone; its partial copy stays
    assert slow.model.fs.exists(DISK + ".partial")

    second = hv.start_operation("prepare_disk", "job-1.prepare_disk.2", spec())
    lab_clock.advance(4)
    assert status(hv, second).state == "succeeded"
    assert not slow.model.fs.exists(DISK + ".partial")
    assert slow.model.background.started == ["job-1.prepare_disk.1", "job-1.prepare_disk.2"]


def test_a_worker_that_dies_without_a_result_is_reported_failed(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    slow.model.background.faults.append(CopyFault(at_percent=10, crash=True))
    started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    lab_clock.advance(2)
    failed = status(hv, started)
    assert failed.state == "failed"
    assert failed.error is not None
    assert failed.error.category == "HostOperationFailed"
    assert "ended without a result (task result 0x8007042B)" in failed.error.message


def test_the_tasks_time_limit_ends_a_copy_that_runs_too_long(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    slow.model.background.rate = 0.01 * GB  # 310 s for the image
    started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec(), time_limit_seconds=60)
    lab_clock.advance(61)
    failed = status(hv, started)
    assert failed.state == "failed"
    assert failed.error is not None
    assert "task result 0x00041306" in failed.error.message
    assert failed.percent < 25


def test_stop_ends_the_worker_and_compensation_removes_everything(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    lab_clock.advance(1)
    stopped = hv.stop_operation(started.id, started.folder)
    assert (stopped.state, stopped.stopped) == ("canceled", True)
    assert hv.stop_operation(started.id, started.folder).stopped is False  # repeatable
    lab_clock.advance(5)
    assert status(hv, started).state == "canceled"  # a stopped copy never finishes
    assert not slow.model.fs.exists(DISK)
    removal = hv.remove_owned("job-1", "app42")
    assert removal.folders_removed == [FOLDER]
    assert DISK + ".partial" in removal.deleted_files
    assert not slow.model.fs.exists(FOLDER)
    missing = hv.stop_operation(started.id, started.folder)
    assert (missing.state, missing.stopped) == ("missing", False)


def test_compensation_stops_a_running_copy_first(hv: HyperVClient, slow: LabHost, lab_clock: ManualClock) -> None:
    started = hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    lab_clock.advance(1)
    removal = hv.remove_owned("job-1", "app42")
    assert removal.folders_removed == [FOLDER]
    assert removal.kept_files == []
    assert not slow.model.fs.exists(FOLDER)
    assert slow.model.background.task(started.id) is None
    lab_clock.advance(5)
    hv.list_switches()
    assert not slow.model.fs.exists(FOLDER)  # the stopped worker never writes again


def test_the_host_refuses_to_delete_or_overwrite_a_copy_in_progress(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    hv.start_operation("prepare_disk", "job-1.prepare_disk.1", spec())
    with pytest.raises(ScriptFailed, match="being used by another process"):
        hv.prepare_disk(spec())  # Copy-Item -Force onto the file the worker holds
    lab_clock.advance(4)
    assert hv.prepare_disk(spec()).created is False  # finished: the synchronous script finds the disk


def test_nothing_to_copy_succeeds_at_once(hv: HyperVClient, standalone: LabHost) -> None:
    blank = hv.start_operation("prepare_disk", "j.blank.1", PrepareDiskSpec(vm_name="blank1", job_id="j", disk_gb=40))
    assert blank.state == "succeeded"
    assert PreparedDisk.model_validate(blank.result).created is True
    assert standalone.model.background.started == []
    made = hv.prepare_disk(spec("app43", "job-3"))
    found = hv.start_operation("prepare_disk", "job-3.prepare_disk.1", spec("app43", "job-3"))
    assert found.state == "succeeded"
    assert PreparedDisk.model_validate(found.result) == made.model_copy(update={"created": False})


def test_the_synchronous_copy_takes_the_hosts_copy_time(
    hv: HyperVClient, slow: LabHost, lab_clock: ManualClock
) -> None:
    before = lab_clock()
    hv.prepare_disk(spec())
    assert lab_clock() - before == pytest.approx(3.1, abs=0.1)


def test_bad_requests_are_refused_before_anything_runs(hv: HyperVClient, standalone: LabHost) -> None:
    with pytest.raises(InvalidParameters, match="operation_id"):
        hv.start_operation("prepare_disk", "../x", spec())
    with pytest.raises(InvalidParameters, match="time_limit_seconds"):
        hv.start_operation("prepare_disk", "a.1", spec(), time_limit_seconds=5)
    with pytest.raises(ImageNotFound):
        hv.start_operation("prepare_disk", "a.1", spec(image_name="Plan 9"))
    hv.prepare_disk(spec(job="someone-else"))
    with pytest.raises(VmAlreadyExists):
        hv.start_operation("prepare_disk", "a.1", spec())
    with pytest.raises(OperationNotFound):
        hv.operation_status("a.1", "C:\\Hyper-V\\DiskImages")  # not an Aether-V folder
    with pytest.raises(OperationNotFound):
        hv.operation_status("a.1", FOLDER)
    assert standalone.model.background.started == []
