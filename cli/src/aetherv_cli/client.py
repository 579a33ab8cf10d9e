"""The API client: one httpx client for the base URL, a bearer token when a credential gives one, problem errors.

Every call goes through :meth:`ApiClient.call`, which answers the parsed JSON of a success and raises
:class:`~aetherv_cli.errors.ApiError` (carrying the problem document) for anything else. Tests pass their own
``transport`` or ``token`` source; nothing here reads the environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from aetherv_cli import __version__
from aetherv_cli.errors import ApiError, CliError

__all__ = ["ApiClient", "JobAnswer", "TokenSource"]

TokenSource = Callable[[], str | None]
"""Gives the bearer token to send (``None``: send none), asked before each request."""

_FINAL_PROBLEMS = {"urn:aetherv:problem:job-failed", "urn:aetherv:problem:job-canceled"}


@dataclass(frozen=True)
class JobAnswer:
    """A job document and where the server says it lives (``Location``), from a 202 or a job read."""

    job: dict[str, Any]
    location: str | None


class ApiClient:
    """Calls ``/api/v1`` routes of one server (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: TokenSource | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"aetherv-cli/{__version__}"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> httpx.Response:
        """One request; the raw response (any status). Connection failures become a :class:`CliError`."""
        headers = dict(headers or {})
        if authenticated and self._token is not None:
            token = self._token()
            if token:
                headers["Authorization"] = f"Bearer {token}"
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            return self._http.request(method, path, content=content, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach {self.base_url}: {type(exc).__name__}: {exc}") from exc

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """The parsed JSON of a 2xx answer (``None`` for an empty one); :class:`ApiError` otherwise."""
        response = self.send(method, path, body=body, params=params)
        if response.is_success:
            return _parsed(response)
        raise _error(response)

    def submit(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> JobAnswer:
        """A write that answers ``202`` with a job: the job and its ``Location``."""
        response = self.send(method, path, body=body, params=params, headers=headers)
        if not response.is_success:
            raise _error(response)
        document = _parsed(response)
        if not isinstance(document, dict) or "id" not in document:
            raise CliError(f"the server answered {response.status_code} without a job document")
        return JobAnswer(document, response.headers.get("Location"))

    def job(self, job_id: str) -> JobAnswer:
        """A job in any state: ``202``/``200`` carry it, and so do the problems of a failed or canceled job."""
        response = self.send("GET", f"/api/v1/jobs/{job_id}")
        document = _parsed(response)
        if response.is_success and isinstance(document, dict):
            return JobAnswer(document, response.headers.get("Location"))
        if (
            isinstance(document, dict)
            and document.get("type") in _FINAL_PROBLEMS
            and isinstance(document.get("job"), dict)
        ):
            return JobAnswer(document["job"], None)
        raise _error(response)

    def job_log(self, job_id: str, after: str | None, limit: int = 200) -> dict[str, Any] | None:
        """A page of the job's log after the token ``after``; ``None`` when the server has no log route (404)."""
        params = {"limit": str(limit)}
        if after:
            params["after"] = after
        response = self.send("GET", f"/api/v1/jobs/{job_id}/log", params=params)
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise _error(response)
        document = _parsed(response)
        return document if isinstance(document, dict) else None

    def ui_config(self) -> dict[str, Any] | None:
        """The server's anonymous ``/ui-config.json`` (auth mode, Entra client and scope); ``None`` if it has none."""
        response = self.send("GET", "/ui-config.json", authenticated=False)
        document = _parsed(response) if response.is_success else None
        return document if isinstance(document, dict) else None


def _parsed(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _error(response: httpx.Response) -> ApiError:
    document = _parsed(response)
    problem = document if isinstance(document, dict) else None
    return ApiError(response.status_code, problem, response.text if problem is None else "")
