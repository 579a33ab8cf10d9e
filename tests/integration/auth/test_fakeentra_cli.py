"""``python -m tools.fakeentra``: serves a tenant and prints settings and working tokens for each role."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from functions.auth import Authenticator, IdentityType, InsufficientPermissionError, Permission
from functions.settings import AuthSettings

ROOT = Path(__file__).resolve().parents[3]
TENANT = "5e1f0000-0000-4000-8000-0000000000c1"
CLIENT = "c11e0000-0000-4000-8000-0000000000c2"


@pytest.fixture
def served() -> Iterator[dict[str, Any]]:
    command = [sys.executable, "-m", "tools.fakeentra", "--port", "0", "--tenant", TENANT, "--client-id", CLIENT]
    process = subprocess.Popen([*command, "--json"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the fake authority printed nothing"
        yield json.loads(line)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_cli_tokens_work_against_the_served_tenant(served: dict[str, Any]) -> None:
    env = served["settings"]
    assert env["AETHERV_AUTH_MODE"] == "entra"
    assert env["AETHERV_ENTRA_AUTHORITY"] == served["authority"]
    assert env["AETHERV_ENTRA_TENANT_ID"] == TENANT
    assert env["AETHERV_ENTRA_CLIENT_ID"] == CLIENT
    settings = AuthSettings(
        mode="entra",
        authority=env["AETHERV_ENTRA_AUTHORITY"],
        tenant_id=TENANT,
        client_id=CLIENT,
        app_id_uri=env["AETHERV_ENTRA_APP_ID_URI"],
        role_reader="Aether.Reader",
        role_operator="Aether.Operator",
        role_admin="Aether.Admin",
        easy_auth_enabled=False,
    )
    auth = Authenticator(settings)
    levels = {"reader": Permission.READER, "operator": Permission.OPERATOR, "admin": Permission.ADMIN}
    seen = set()
    for item in served["tokens"]:
        headers = {"Authorization": f"Bearer {item['token']}"}
        if item["level"] == "none":
            with pytest.raises(InsufficientPermissionError):
                auth.authorize(headers, Permission.READER)
            continue
        principal = auth.authorize(headers, levels[item["level"]])
        assert principal.identity_type is IdentityType(item["kind"])
        seen.add((item["level"], item["kind"]))
    assert {("reader", "user"), ("operator", "user"), ("admin", "user"), ("operator", "managed_identity")} <= seen


def test_cli_text_output() -> None:
    command = [sys.executable, "-m", "tools.fakeentra", "--port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(12)]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    text = "".join(lines)
    assert "AETHERV_ENTRA_AUTHORITY=http://127.0.0.1:" in text
    assert "reader   user" in text
    assert process.returncode == 0
