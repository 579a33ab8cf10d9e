"""The CLI's pieces that need no server: request files, problem documents, outcomes, output formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aetherv_cli.errors import ApiError, CliError
from aetherv_cli.follow import exit_code_of
from aetherv_cli.main import cli
from aetherv_cli.output import Printer
from aetherv_cli.requests import read_document
from click.testing import CliRunner
from rich.console import Console


def test_a_request_file_is_json_or_yaml_by_extension_or_content(tmp_path: Path) -> None:
    document = {"name": "web01", "lease": {"expires_at": "2027-01-31T00:00:00Z"}, "cpu_cores": 2}
    (tmp_path / "a.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "a.yml").write_text(yaml.safe_dump(document), encoding="utf-8")
    (tmp_path / "a.req").write_text("name: web01\nlease:\n  expires_at: 2027-01-31T00:00:00Z\ncpu_cores: 2\n")
    for name in ("a.json", "a.yml", "a.req"):
        assert read_document(str(tmp_path / name)) == document  # an unquoted YAML moment stays the API's string
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(CliError, match="must hold one object"):
        read_document(str(tmp_path / "list.yaml"))
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(CliError, match="not valid JSON"):
        read_document(str(tmp_path / "bad.json"))


def test_a_problem_document_becomes_one_line_per_field() -> None:
    problem = {
        "type": "urn:aetherv:problem:invalid-request",
        "title": "The request is invalid",
        "status": 422,
        "detail": "2 problem(s) found; see errors",
        "errors": [{"field": "name", "message": "is required"}, {"field": "", "message": "must be an object"}],
    }
    error = ApiError(422, problem)
    assert error.message == "The request is invalid (422): 2 problem(s) found; see errors"
    assert error.lines == ["name: is required", "(body): must be an object"]
    assert error.exit_code == 1
    assert ApiError(403, {"title": "Forbidden"}).exit_code == 3
    assert ApiError(401, None, "no token").exit_code == 3
    assert ApiError(502, None, "<html>bad gateway</html>").message == "HTTP 502 (502): <html>bad gateway</html>"


def test_a_jobs_status_is_its_exit_code() -> None:
    assert [exit_code_of({"status": s}) for s in ("Succeeded", "Failed", "Canceled")] == [0, 1, 2]


def test_json_and_yaml_print_the_document_as_it_came(capsys: pytest.CaptureFixture[str]) -> None:
    page = {"items": [{"id": "a", "name": "ü", "ip_addresses": ["10.0.0.5"]}], "continuation": None}
    for fmt, parse in (("json", json.loads), ("yaml", yaml.safe_load)):
        Printer(fmt, Console(), Console(stderr=True)).items(page, "vm")
        assert parse(capsys.readouterr().out) == page


def test_usage_errors_and_an_unreachable_server(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"AETHERV_CONFIG_DIR": str(tmp_path), "AETHERV_URL": None}
    assert runner.invoke(cli, ["nope"], env=env).exit_code == 3
    assert runner.invoke(cli, ["vms", "list", "--limit", "0"], env=env).exit_code == 3
    unreachable = runner.invoke(cli, ["--url", "http://127.0.0.1:9", "vms", "list"], env=env)
    assert unreachable.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in unreachable.stderr
