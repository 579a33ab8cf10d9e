"""``aetherv`` against the app in Entra mode: the scope it discovers, the token it sends, and exit 3 on 401/403.

There is no Entra here, so the credential is the one seam replaced: an object with azure-identity's ``get_token``
that returns tokens the local fake authority signs (the app validates them for real, against that authority's keys).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from aetherv_cli.main import cli
from aetherv_cli.session import Overrides
from azure.core.credentials import AccessToken
from click.testing import CliRunner, Result

from tools.fakeentra.authority import FakeEntra
from tools.stack import Stack


class MintingCredential:
    """azure-identity's credential interface, answered with the fake tenant's tokens for ``roles``."""

    def __init__(self, entra: FakeEntra, roles: list[str]) -> None:
        self.entra = entra
        self.roles = roles
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.entra.mint(self.roles), int(time.time()) + 3600)


def aetherv(stack: Stack, config: Path, *args: str, credential: MintingCredential | None = None) -> Result:
    env = {"AETHERV_CONFIG_DIR": str(config), "AETHERV_URL": None, "AETHERV_SCOPE": None}
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        env[name] = None
    overrides = Overrides(credential=credential)
    return CliRunner().invoke(cli, ["--url", stack.base_url, *args], obj=overrides, env=env)


def test_login_discovers_the_scope_and_later_commands_send_its_token(
    secured: Stack, entra: FakeEntra, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    unsigned = aetherv(secured, config, "vms", "list")
    assert unsigned.exit_code == 3, unsigned.output  # nobody signed in: no token, and the API says 401
    assert "(401)" in unsigned.stderr

    operator = MintingCredential(entra, ["Aether.Operator"])
    login = aetherv(secured, config, "login", "--method", "environment", credential=operator)
    assert login.exit_code == 0, login.output
    scope = f"api://{entra.client_id}/.default"
    assert operator.scopes == [(scope,)]
    saved = json.loads((config / "login.json").read_text(encoding="utf-8"))
    assert saved == {
        "url": secured.base_url,
        "method": "environment",
        "scope": scope,
        "tenant_id": entra.tenant_id,
        "client_id": None,
        "record": None,
    }
    assert "token" not in (config / "login.json").read_text(encoding="utf-8").lower()

    listed = aetherv(secured, config, "-o", "json", "jobs", "list", credential=operator)
    assert listed.exit_code == 0, listed.output
    assert isinstance(json.loads(listed.stdout)["items"], list)
    assert operator.scopes[-1] == (scope,)

    # the saved method without its credentials in the environment: an honest auth failure, exit 3
    no_secret = aetherv(secured, config, "jobs", "list")
    assert no_secret.exit_code == 3, no_secret.output
    assert "EnvironmentCredential could not get a token" in no_secret.stderr

    reader = MintingCredential(entra, ["Aether.Reader"])
    refused = aetherv(secured, config, "vms", "delete", "5f0c3d6e-1111-2222-3333-444455556666", credential=reader)
    assert refused.exit_code == 3, refused.output
    assert "(403)" in refused.stderr

    assert aetherv(secured, config, "logout").exit_code == 0
    assert not (config / "login.json").exists()


def test_against_a_local_mode_server_no_sign_in_is_needed(stack: Stack, tmp_path: Path) -> None:
    result = aetherv(stack, tmp_path / "config", "login")
    assert result.exit_code == 0, result.output
    assert "no sign-in is needed" in result.stderr
    assert not (tmp_path / "config" / "login.json").exists()
