"""The problem types: one table maps errors to problems, and the README documents every ``type`` the API uses."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from functions import errors
from functions.errors import problem_for, problem_types

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("problem", problem_types(), ids=lambda p: p.slug)
def test_every_problem_type_is_documented_in_the_readme(problem: errors.ProblemType) -> None:
    row = next(
        (
            line
            for line in README.splitlines()
            if line.startswith("| `urn:aetherv:problem:") and (problem.uri in line or f"`{problem.slug}`" in line)
        ),
        None,
    )
    assert row is not None, f"{problem.uri} is not in the README's table of problem types"
    assert str(problem.status) in row


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (errors.HostNotConfigured("hv9"), 404, "host-not-configured"),
        (errors.NotFound("x"), 404, "not-found"),
        (errors.HostUnavailable("hv1", "refused", transient=False), 502, "host-unavailable"),
        (errors.HostUnavailable("hv1", "timeout"), 503, "host-unavailable"),
        (ServiceRequestError("down"), 503, "storage-unavailable"),
        (HttpResponseError("throttled"), 503, "storage-error"),
    ],
)
def test_the_most_specific_row_answers(exc: BaseException, status: int, slug: str) -> None:
    spec = problem_for(exc)
    assert spec is not None
    assert (spec.status, spec.kind.slug) == (status, slug)


def test_an_unexpected_error_has_no_row() -> None:
    assert problem_for(RuntimeError("bug")) is None
