"""Entra sign-in in the browser: MSAL.js runs the authorization code flow with PKCE against the app in Entra mode.

The app runs on a second devhost with ``AETHERV_AUTH_MODE=entra``. Microsoft Entra ID itself cannot be reached
from a test, so the browser's requests to the login host are answered in the test (OpenID metadata, the authorize
redirect and the token endpoint) with locally minted tokens: everything on the app's side — the config endpoint, the
CSP that lets MSAL reach the login host, the redirect page, the code exchange, roles from the token, and the bearer
token on API calls — is real.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Stack
from tests.e2e.dashboard.conftest import LAPTOP, SCREENSHOTS
from tools.azurite import free_port

LOGIN = "https://login.microsoftonline.com"
TENANT = "7a0b5c1e-3d2f-4e6a-9b8c-1d2e3f405162"
CLIENT = "0c1d2e3f-4a5b-6c7d-8e9f-a0b1c2d3e4f5"
USER_OID = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


@pytest.fixture(scope="module")
def entra_app(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The app in Entra mode on its own devhost (same storage and lab, its own task hub and tables)."""
    work = tmp_path_factory.mktemp("entra")
    env = {
        **stack.env,
        "AETHERV_AUTH_MODE": "entra",
        "AETHERV_ENTRA_TENANT_ID": TENANT,
        "AETHERV_ENTRA_CLIENT_ID": CLIENT,
        "AETHERV_TASK_HUB": "EntraUi" + uuid.uuid4().hex[:8],
        "AETHERV_TABLE_PREFIX": "u" + uuid.uuid4().hex[:10],
        "AETHERV_INVENTORY_SCHEDULE": "0 0 0 1 1 *",
    }
    app = Stack(
        base_url=f"http://127.0.0.1:{free_port()}",
        lab=stack.lab,
        env=env,
        repo=stack.repo,
        jobs=stack.jobs,
        seal_key=stack.seal_key,
        store_dir=work / "taskhub",
        log_path=work / "devhost.log",
    )
    app.launch()
    try:
        yield app
    finally:
        app.stop()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeLogin:
    """Answers the browser's requests to the Entra login host."""

    authorize: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    access_token: str = ""

    def mint(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode({"iat": now, "nbf": now, "exp": now + 3600, **claims}, "not-a-real-key-" + "x" * 32, "HS256")

    def handle(self, route: Any) -> None:
        request = route.request
        url = urlsplit(request.url)
        cors = {"Access-Control-Allow-Origin": "*"}
        issuer = f"{LOGIN}/{TENANT}/v2.0"
        if url.path.endswith("/.well-known/openid-configuration"):
            base = f"{LOGIN}/{TENANT}/oauth2/v2.0"
            metadata = {
                "issuer": issuer,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "end_session_endpoint": f"{base}/logout",
                "jwks_uri": f"{LOGIN}/{TENANT}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
            }
            route.fulfill(json=metadata, headers=cors)
        elif url.path.endswith("/discovery/instance"):
            aliases = ["login.microsoftonline.com", "login.windows.net", "sts.windows.net"]
            body = {
                "tenant_discovery_endpoint": f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
                "metadata": [{"preferred_network": aliases[0], "preferred_cache": aliases[1], "aliases": aliases}],
            }
            route.fulfill(json=body, headers=cors)
        elif url.path.endswith("/authorize"):
            params = {key: values[0] for key, values in parse_qs(url.query).items()}
            self.authorize.append(params)
            answer = urlencode({"code": "test-code", "state": params["state"], "client_info": self.client_info()})
            separator = "#" if params.get("response_mode", "fragment") == "fragment" else "?"
            route.fulfill(status=302, headers={"Location": f"{params['redirect_uri']}{separator}{answer}"})
        elif url.path.endswith("/token"):
            form = {key: values[0] for key, values in parse_qs(request.post_data or "").items()}
            self.token_requests.append(form)
            nonce = self.authorize[-1].get("nonce") if self.authorize else None
            user = {"oid": USER_OID, "tid": TENANT, "sub": "subject-1", "name": "Test Operator"}
            id_token = self.mint(
                {**user, "aud": CLIENT, "iss": issuer, "nonce": nonce, "preferred_username": "operator@contoso.example"}
            )
            self.access_token = self.mint(
                {**user, "aud": CLIENT, "iss": issuer, "roles": ["Aether.Operator"], "azp": CLIENT, "scp": ""}
            )
            body = {
                "token_type": "Bearer",
                "scope": f"api://{CLIENT}/.default",
                "expires_in": 3600,
                "ext_expires_in": 3600,
                "access_token": self.access_token,
                "id_token": id_token,
                "client_info": self.client_info(),
            }
            route.fulfill(json=body, headers=cors)
        else:
            route.fulfill(status=404, body="", headers=cors)

    @staticmethod
    def client_info() -> str:
        return _b64url(json.dumps({"uid": USER_OID, "utid": TENANT}).encode())


def test_entra_sign_in_with_pkce_and_roles_from_the_token(browser: Any, entra_app: Stack) -> None:
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(20_000)
    login = FakeLogin()
    context.route(re.compile(r"^https://login\.microsoftonline\.com/.*"), login.handle)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    api_auth: list[str] = []
    page.on(
        "request",
        lambda r: api_auth.append(r.headers.get("authorization", "")) if "/api/v1/" in r.url else None,
    )
    try:
        status, headers, _ = entra_app.request("GET", "/")
        assert status == 200
        assert f"connect-src 'self' {LOGIN};" in headers["Content-Security-Policy"]
        _, _, config = entra_app.request("GET", "/ui-config.json")
        assert config["mode"] == "entra"
        assert config["entra"]["client_id"] == CLIENT

        page.goto(entra_app.base_url + "/")
        sign_in = page.get_by_role("button", name="Sign in with Microsoft")
        expect(sign_in).to_be_visible()
        assert not api_auth, "nothing is called before sign-in"
        page.screenshot(path=str(Path(SCREENSHOTS) / "entra-sign-in-laptop.png"))
        sign_in.click()

        expect(page.locator(".who .user")).to_have_text("Test Operator")
        expect(page.locator(".who .role")).to_have_text("Aether.Operator")
        expect(page.locator("#mode-banner")).to_be_hidden()
        authorize = login.authorize[0]
        assert authorize["response_type"] == "code"
        assert authorize["code_challenge_method"] == "S256"
        assert len(authorize["code_challenge"]) >= 43
        assert authorize["client_id"] == CLIENT
        assert f"api://{CLIENT}/.default" in authorize["scope"].split()
        assert authorize["redirect_uri"] == entra_app.base_url + "/auth/redirect"
        token_request = login.token_requests[0]
        assert token_request["grant_type"] == "authorization_code"
        assert token_request["code"] == "test-code"
        assert len(token_request["code_verifier"]) >= 43
        expect(page).to_have_url(entra_app.base_url + "/")
        page.wait_for_selector("main[aria-busy='false']")
        assert api_auth
        assert api_auth[0] == f"Bearer {login.access_token}"
        # The API checks the token itself: this one is not signed by Entra, so it is refused, and the UI says so.
        expect(page.locator(".panel-error")).to_contain_text("Unauthorized")
        expect(page.get_by_role("button", name="Sign in again")).to_be_visible()
        page.screenshot(path=str(Path(SCREENSHOTS) / "entra-signed-in-laptop.png"))
        assert not problems, problems
    finally:
        context.close()
