"""Property-based checks of the served OpenAPI document (schemathesis): no 5xx, responses match the schema.

Every operation gets a bounded number of generated requests (valid and invalid) with a valid admin token against the
app in Entra mode, so schemathesis' authentication checks apply too. The "schema-valid data is accepted" check is
left out: continuation tokens are opaque strings the schema cannot constrain, and a create request can satisfy the
JSON schema yet break a cross-field rule (a 16-character Windows name), which is rightly a 4xx.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tools.fakeentra.authority import FakeEntra
from tools.stack import Stack

EXAMPLES = 6


def test_every_operation_honours_the_openapi_document(secured: Stack, entra: FakeEntra) -> None:
    schema = schemathesis.openapi.from_url(f"{secured.base_url}/api/openapi.json")
    token = entra.mint(["Aether.Admin"], expires_in=3600)
    checked: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, excluded_checks=[positive_data_acceptance]
            )

        check()
        checked.append(operation.label)
    _, _, document = secured.request("GET", "/api/openapi.json")
    assert len(checked) == sum(len(methods) for methods in document["paths"].values()), checked
