"""checkov over infra/ (Bicep framework): no failed check, no parse error, and every skip carries its reason."""

from __future__ import annotations

from typing import Any

from tests.infra.bicep import INFRA


def _results(report: dict[str, Any]) -> dict[str, Any]:
    assert report.get("check_type") == "bicep", report.keys()
    results: dict[str, Any] = report["results"]
    return results


def test_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in _results(checkov_report)["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_bicep_file_was_parsed(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["passed"] > 0
    scanned = {
        check["file_path"].lstrip("/")
        for kind in ("passed_checks", "skipped_checks")
        for check in _results(checkov_report)[kind]
    }
    for module in ("app/api.bicep", "app/storage.bicep", "app/keyvault.bicep", "app/network.bicep"):
        assert module in scanned, module
    assert (INFRA / "main.bicep").is_file()


def test_every_skip_is_justified(checkov_report: dict[str, Any]) -> None:
    for check in _results(checkov_report)["skipped_checks"]:
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        where = f"{check['check_id']} {check['resource']}: {reason!r}"
        assert reason != "No comment provided", where
        assert len(reason.strip()) >= 20, where
