"""The API behind Entra ID over real HTTP: every role against every route, and token attacks.

A devhost runs the app with ``AETHERV_AUTH_MODE=entra`` against a local fake authority (metadata and JWKS over
loopback HTTP); tokens are signed in the test. No Hyper-V lab is needed: authorization happens before any work.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from tools.fakeentra.authority import FakeEntra
from tools.stack import Stack

ROLES = {"reader": ["Aether.Reader"], "operator": ["Aether.Operator"], "admin": ["Aether.Admin"], "none": []}
# (method, path, body, minimum role); the answer for an allowed caller is whatever the route says, never 401/403.
VM = "5f0c3d6e-1111-2222-3333-444455556666"
CHANGES = [  # the day-2 writes
    ("PATCH", "", {"notes": "x"}),
    ("POST", "/disks", {"size_gb": 1}),
    ("POST", "/disks/d1/expand", {"size_gb": 2}),
    ("DELETE", "/disks/d1", None),
    ("POST", "/nics", {"network": "External"}),
    ("PATCH", "/nics/n1", {"vlan_id": 2}),
    ("DELETE", "/nics/n1", None),
    ("POST", "/checkpoints", {"name": "c"}),
    ("POST", "/checkpoints/c1/apply", None),
    ("DELETE", "/checkpoints/c1", None),
    ("POST", "/migrate", {"host": "hv02"}),
]
ROUTES = [
    ("GET", "/api/v1/inventory", None, "reader"),
    ("GET", "/api/v1/hosts", None, "reader"),
    ("GET", "/api/v1/hosts/hv01", None, "reader"),
    ("GET", "/api/v1/hosts/hv01/vms", None, "reader"),
    ("GET", "/api/v1/hosts/hv01/images", None, "reader"),
    ("GET", "/api/v1/hosts/hv01/networks", None, "reader"),
    ("GET", "/api/v1/vms", None, "reader"),
    ("GET", "/api/v1/vms/5f0c3d6e-1111-2222-3333-444455556666", None, "reader"),
    ("GET", "/api/v1/clusters", None, "reader"),
    ("GET", "/api/v1/jobs", None, "reader"),
    ("GET", "/api/v1/jobs/missing", None, "reader"),
    ("GET", "/api/v1/jobs/missing/log", None, "reader"),
    ("POST", "/api/v1/vms", {"name": "x"}, "operator"),
    ("POST", "/api/v1/vms?dry_run=true", {"name": "x"}, "operator"),
    ("DELETE", "/api/v1/vms/5f0c3d6e-1111-2222-3333-444455556666", None, "operator"),
    ("POST", "/api/v1/vms/5f0c3d6e-1111-2222-3333-444455556666/start", None, "operator"),
    ("POST", "/api/v1/inventory/refresh?host=hv09", None, "operator"),
    *((method, f"/api/v1/vms/{VM}{path}", body, "operator") for method, path, body in CHANGES),
    ("GET", f"/api/v1/vms/{VM}/checkpoints", None, "reader"),
    ("PUT", f"/api/v1/vms/{VM}/lease", {"hours": 1}, "operator"),
    ("POST", "/api/v1/jobs/missing/cancel", None, "operator"),
    ("POST", "/api/v1/jobs/missing/approve", None, "admin"),
    ("POST", "/api/v1/jobs/missing/reject", {"reason": "no"}, "admin"),
    ("GET", "/api/v1/audit", None, "admin"),
    ("POST", "/api/v1/hosts/hv01/probe", None, "admin"),  # no lab here: an admin gets 404, never a probe
    ("GET", "/api/v1/ip-pools", None, "reader"),
    ("GET", "/api/v1/ip-pools/auth-pool", None, "reader"),
    ("PUT", "/api/v1/ip-pools/auth-pool", {"network": "External"}, "admin"),  # invalid: an admin gets 422
    ("DELETE", "/api/v1/ip-pools/auth-pool", None, "admin"),  # no such pool: an admin gets 404
    ("GET", "/api/v1/events/failed", None, "admin"),
    ("POST", "/api/v1/events/failed/00000000-0000-0000-0000-000000000000/retry", None, "admin"),  # 404 for an admin
]
LEVEL = {"none": 0, "reader": 1, "operator": 2, "admin": 3}


def call(stack: Stack, method: str, path: str, body: object, token: str | None) -> tuple[int, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    status, response_headers, _ = stack.request(method, path, body, headers)
    return status, response_headers


@pytest.mark.parametrize("role", list(ROLES))
def test_every_role_against_every_route(secured: Stack, entra: FakeEntra, role: str) -> None:
    user = entra.mint(ROLES[role])
    app = entra.mint(ROLES[role], kind="app", version="1.0")
    for method, path, body, needed in ROUTES:
        for token in (user, app):
            status, headers = call(secured, method, path, body, token)
            if LEVEL[role] >= LEVEL[needed]:
                assert status not in (401, 403), (role, method, path, status)
            else:
                assert status == 403, (role, method, path, status)
                assert "insufficient_scope" in headers.get("WWW-Authenticate", "")


def test_health_routes_stay_anonymous(secured: Stack) -> None:
    assert call(secured, "GET", "/api/healthz", None, None)[0] == 200
    assert call(secured, "GET", "/api/openapi.json", None, None)[0] == 200


def test_missing_and_attack_tokens_get_401(secured: Stack, entra: FakeEntra) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = entra.mint(["Aether.Admin"])
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["Aether.Admin", "Aether.Operator"]
    tampered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    attacks = {
        "missing": None,
        "expired": entra.mint(["Aether.Admin"], expires_in=-600),
        "not yet valid": entra.mint(["Aether.Admin"], not_before=900),
        "wrong audience": entra.mint(["Aether.Admin"], audience="api://someone-else"),
        "wrong tenant": entra.mint(["Aether.Admin"], extra_claims={"tid": str(uuid.uuid4())}),
        "wrong issuer": entra.mint(["Aether.Admin"], extra_claims={"iss": "https://evil.example/v2.0"}),
        "alg none": entra.mint(["Aether.Admin"], alg="none"),
        "HS256 with the public key": entra.mint(["Aether.Admin"], alg="HS256"),
        "unknown kid": entra.mint(["Aether.Admin"], kid="no-such-kid"),
        "other key, known kid": entra.mint(["Aether.Admin"], signing_key=other_key),
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "garbage": "not.a.jwt",
    }
    for name, token in attacks.items():
        status, headers = call(secured, "GET", "/api/v1/hosts", None, token)
        assert status == 401, name
        assert headers.get("WWW-Authenticate", "").startswith("Bearer"), name
    forged = base64.b64encode(
        json.dumps({"claims": [{"typ": "roles", "val": "Aether.Admin"}], "role_typ": "roles"}).encode()
    ).decode()
    status, _, _ = secured.request("GET", "/api/v1/audit", None, {"X-MS-CLIENT-PRINCIPAL": forged})
    assert status == 401


def _audit(stack: Stack, entra: FakeEntra) -> list[dict[str, object]]:
    admin = entra.mint(["Aether.Admin"])
    status, _, body = stack.request("GET", "/api/v1/audit?limit=200", None, {"Authorization": f"Bearer {admin}"})
    assert status == 200, body
    items: list[dict[str, object]] = body["items"]
    return items


def test_refused_writes_are_audited_with_their_outcome(secured: Stack, entra: FakeEntra) -> None:
    oid = str(uuid.uuid4())
    reader = entra.mint(["Aether.Reader"], extra_claims={"oid": oid})
    assert call(secured, "POST", "/api/v1/inventory/refresh", None, reader)[0] == 403
    assert call(secured, "DELETE", "/api/v1/vms/5f0c3d6e-1111-2222-3333-444455556666", None, None)[0] == 401
    records = _audit(secured, entra)
    denied = next(r for r in records if r["action"] == "refresh_inventory" and r["outcome"] == 403)
    assert denied["who"]["object_id"] == oid  # type: ignore[index]
    anonymous = next(r for r in records if r["action"] == "delete_vm" and r["outcome"] == 401)
    assert anonymous["who"] == {}
    assert anonymous["target"] == {"vm_id": "5f0c3d6e-1111-2222-3333-444455556666"}


def test_a_probe_is_for_admins_and_a_refused_one_is_audited(secured: Stack, entra: FakeEntra) -> None:
    oid = str(uuid.uuid4())
    for roles in (["Aether.Operator"], ["Aether.Reader"]):
        token = entra.mint(roles, extra_claims={"oid": oid})
        status, headers = call(secured, "POST", "/api/v1/hosts/hv01/probe", None, token)
        assert status == 403
        assert "insufficient_scope" in headers.get("WWW-Authenticate", "")
    admin = entra.mint(["Aether.Admin"])
    status, _, body = secured.request("POST", "/api/v1/hosts/hv01/probe", None, {"Authorization": f"Bearer {admin}"})
    assert status == 404 and body["type"] == "urn:aetherv:problem:host-not-configured", body
    records = [r for r in _audit(secured, entra) if r["action"] == "probe_host"]
    assert [r["outcome"] for r in records if r["who"]["object_id"] == oid] == [403, 403]  # type: ignore[index]
    assert any(r["outcome"] == 404 and r["target"] == {"host": "hv01"} for r in records)


def test_the_audited_client_address_is_the_one_the_front_end_saw(secured: Stack, entra: FakeEntra) -> None:
    operator = entra.mint(["Aether.Operator"])
    headers = {"Authorization": f"Bearer {operator}", "X-Forwarded-For": "203.0.113.77, 198.51.100.9"}
    status, _, _ = secured.request("POST", "/api/v1/inventory/refresh?host=hv42", None, headers)
    assert status == 404  # not a configured host; the write is audited all the same
    record = next(r for r in _audit(secured, entra) if r["target"] == {"host": "hv42"})
    assert record["outcome"] == 404
    assert record["client_ip"] == "127.0.0.1"  # the devhost's front end appended the peer, as App Service does


def test_an_operator_changes_the_lease_of_a_vm_they_requested_and_an_admin_any(
    secured: Stack, entra: FakeEntra
) -> None:
    from datetime import UTC, datetime

    from functions.models.jobs import JobTarget, Requester

    requester, other = str(uuid.uuid4()), str(uuid.uuid4())
    vm_id = str(uuid.uuid4())
    host = "lease-" + uuid.uuid4().hex[:6]
    vm = {"id": vm_id, "name": "leased01", "state": "Running", "cpu_cores": 2, "memory_gb": 2.0}
    secured.repo.apply_snapshot(host, {}, [vm], datetime.now(UTC))
    job = secured.jobs.new_job(
        id=f"create-vm-{host}-leased01-1",
        kind="create_vm",
        target=JobTarget(host=host, name="leased01", vm_id=vm_id),
        requested_by=Requester(id=requester, name="Requester", type="user"),
    )
    secured.jobs.create(job)
    path = f"/api/v1/vms/{vm_id}/lease"
    own = entra.mint(["Aether.Operator"], extra_claims={"oid": requester})
    stranger = entra.mint(["Aether.Operator"], extra_claims={"oid": other})
    admin = entra.mint(["Aether.Admin"])
    reader = entra.mint(["Aether.Reader"], extra_claims={"oid": requester})

    status, _, problem = secured.request("PUT", path, {"hours": 5}, {"Authorization": f"Bearer {stranger}"})
    assert status == 403 and problem["status"] == 403, problem
    assert call(secured, "PUT", path, {"hours": 5}, reader)[0] == 403
    status, _, body = secured.request("PUT", path, {"hours": 5}, {"Authorization": f"Bearer {own}"})
    assert status == 200 and body["lease"]["requested_by"]["id"] == requester, body
    status, _, body = secured.request("PUT", path, {"hours": 9}, {"Authorization": f"Bearer {admin}"})
    assert status == 200 and body["lease"]["version"] == 2 and body["lease"]["requested_by"]["id"] == requester
    status, _, body = secured.request("PUT", path, {"expires_at": None}, {"Authorization": f"Bearer {own}"})
    assert status == 200 and body["lease"] is None, body
    refused = [r for r in _audit(secured, entra) if r["action"] == "set_lease" and r["outcome"] == 403]
    assert any(r["who"]["object_id"] == other for r in refused)  # type: ignore[index]
