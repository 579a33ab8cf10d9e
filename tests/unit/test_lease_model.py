"""Lease requests: one of ``expires_at`` or ``hours``, ``null`` clears; the expiry's bounds name their field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from functions.models.leases import Lease, LeaseRequest, format_moment, parse_moment, resolve_expiry

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_request_names_a_moment_or_hours_and_null_clears() -> None:
    assert LeaseRequest.model_validate({"hours": 72}).hours == 72
    moment = LeaseRequest.model_validate({"expires_at": "2027-01-31T00:00:00Z"})
    assert moment.expires_at == datetime(2027, 1, 31, tzinfo=UTC) and not moment.clears
    assert LeaseRequest.model_validate({"expires_at": None}).clears


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"hours": 1, "expires_at": "2027-01-31T00:00:00Z"},
        {"hours": 0},
        {"hours": "3"},
        {"hours": None},
        {"expires_at": "2027-01-31T00:00:00"},
        {"expires_at": "soon"},
        {"days": 3},
    ],
)
def test_malformed_requests_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LeaseRequest.model_validate(body)


def test_the_expiry_is_resolved_and_bounded() -> None:
    hours = LeaseRequest(hours=72)
    assert resolve_expiry(hours, now=NOW, max_hours=100) == (NOW + timedelta(hours=72), [])
    expiry, problems = resolve_expiry(hours, now=NOW, max_hours=24, field="lease.")
    assert expiry is None and [p.field for p in problems] == ["lease.hours"]
    past = LeaseRequest(expires_at=NOW - timedelta(seconds=1))
    assert [p.field for p in resolve_expiry(past, now=NOW, max_hours=24)[1]] == ["expires_at"]
    far = LeaseRequest(expires_at=NOW + timedelta(hours=25))
    assert "AETHERV_LEASE_MAX_HOURS" in resolve_expiry(far, now=NOW, max_hours=24)[1][0].message
    assert resolve_expiry(LeaseRequest(expires_at=None), now=NOW, max_hours=24) == (None, [])


def test_moments_are_utc_seconds_and_sort_as_text() -> None:
    text = format_moment(datetime(2027, 1, 31, 1, 0, 0, 500, tzinfo=UTC))
    assert text == "2027-01-31T01:00:00Z" and parse_moment(text) == datetime(2027, 1, 31, 1, tzinfo=UTC)
    assert format_moment(NOW) < format_moment(NOW + timedelta(seconds=1))


def test_a_changed_lease_is_a_new_version_not_yet_warned_or_expired() -> None:
    lease = Lease("vm", "2026-11-02T00:00:00Z", {"id": "a"}, {"id": "a"}, "t", warned_at="w", delete_job_id="j")
    changed = lease.changed("2026-11-05T00:00:00Z", {"id": "b"}, "t2")
    assert changed.version == 2 and changed.warned_at is None and changed.delete_job_id is None
    assert changed.requested_by == {"id": "a"} and changed.set_by == {"id": "b"}
    assert Lease.from_json(changed.to_json()) == changed
