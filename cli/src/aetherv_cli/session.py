"""What every command works with: the server's client, the printer, the sign-in, and the write-then-maybe-wait step.

:class:`Overrides` is the seam tests (and embedders) use: a credential object or an httpx transport given to the
root command as its ``obj`` replaces the ones the environment would choose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from aetherv_cli.auth import Credential, LoginState, build_credential, token_of
from aetherv_cli.client import ApiClient, JobAnswer
from aetherv_cli.errors import EXIT_OK
from aetherv_cli.follow import JobFollower, exit_code_of
from aetherv_cli.output import FORMATS, Printer, consoles

__all__ = ["Overrides", "Session", "output_option", "pass_session", "wait_options"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Overrides:
    """Collaborators to use instead of the environment's (tests pass one as the root command's ``obj``)."""

    credential: Credential | None = None
    transport: httpx.BaseTransport | None = None
    poll_interval: float = 1.0


@dataclass
class Session:
    """The state of one ``aetherv`` run (built by the root command)."""

    url: str
    output: str
    config_dir: Path
    scope: str | None
    overrides: Overrides
    _client: ApiClient | None = None
    _server_mode: str | None = None
    _credential: Credential | None = None
    _login: LoginState | None = field(default=None, repr=False)

    @property
    def printer(self) -> Printer:
        """The printer for the chosen ``-o`` format (stdout for documents, stderr for messages)."""
        return Printer(self.output, *consoles())

    @property
    def client(self) -> ApiClient:
        """The API client (built once)."""
        if self._client is None:
            self._client = ApiClient(self.url, token=self._token, transport=self.overrides.transport)
        return self._client

    def close(self) -> None:
        """Close the API client's connections (the root command calls this when the run ends)."""
        if self._client is not None:
            self._client.close()

    def ui_config(self) -> dict[str, Any]:
        """The server's anonymous ``/ui-config.json`` (empty when it has none), asked without a token."""
        client = ApiClient(self.url, transport=self.overrides.transport)
        try:
            return client.ui_config() or {}
        finally:
            client.close()

    def server_mode(self) -> str | None:
        """The server's auth mode from its ``/ui-config.json`` (``none`` locally, ``entra``), asked once."""
        if self._server_mode is None:
            self._server_mode = str(self.ui_config().get("mode") or "unknown")
        return self._server_mode

    def _token(self) -> str | None:
        """The bearer token to send: none for a local-mode server, or when nobody signed in."""
        credential = self.overrides.credential
        login = LoginState.load(self.config_dir)
        if credential is None and login is None:
            return None
        if self.server_mode() == "none":
            return None
        if credential is None:
            assert login is not None
            if self._credential is None:
                self._credential = build_credential(login)
            credential = self._credential
        scope = self.scope or (login.scope if login is not None else None)
        if scope is None:
            scope = self.discovered_scope()
        return token_of(credential, scope)

    def discovered_scope(self) -> str:
        """The API's scope as the server's ``/ui-config.json`` names it (``api://<client id>/.default``)."""
        config = self.ui_config()
        scopes = (config.get("entra") or {}).get("scopes") or []
        if not scopes:
            raise click.UsageError("the server does not name its scope: give --scope or set AETHERV_SCOPE")
        return str(scopes[0])

    def submitted(self, answer: JobAnswer, wait: bool) -> None:
        """After a write answered 202: follow the job (``--wait``) and exit with its outcome, else name the job."""
        job = answer.job
        if not wait:
            printer = self.printer
            if self.output == "table":
                location = answer.location or f"{self.url}/api/v1/jobs/{job['id']}"
                printer.out.file.write(f"job {job['id']} {job.get('status', '')}: {location}\n")
            else:
                printer.raw(job)
            raise click.exceptions.Exit(EXIT_OK)
        self.follow(str(job["id"]))

    def follow(self, job_id: str) -> None:
        """Follow a job to its end; print its summary (or its document) and exit 0, 1 or 2 by its status."""
        printer = self.printer
        follower = JobFollower(self.client, printer.err, interval=self.overrides.poll_interval)
        job = follower.follow(job_id)
        if self.output == "table":
            summary: dict[str, Any] = {"id": job.get("id"), "status": job.get("status")}
            for key in ("failed_step", "error", "cleanup", "result", "warnings"):
                if job.get(key):
                    summary[key] = job[key]
            result = summary.get("result")
            if isinstance(result, dict):  # the VM's document is one `vms show` away
                summary["result"] = {k: v for k, v in result.items() if k != "vm"}
            printer.document(summary)
        else:
            printer.raw(job)
        raise click.exceptions.Exit(exit_code_of(job))


_pass_session = click.make_pass_decorator(Session)


def pass_session(command: Callable[..., Any]) -> Callable[..., Any]:
    """Hand the command the run's :class:`Session` as its first argument."""
    return _pass_session(command)


def output_option(command: F) -> F:
    """``-o/--output table|json|yaml`` on a command (overrides the root's ``-o``)."""

    def remember(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.find_object(Session).output = value  # type: ignore[union-attr]

    option = click.option(
        "-o",
        "--output",
        type=click.Choice(FORMATS),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=remember,
        help="Output format: table (default), json or yaml.",
    )
    return option(command)


def wait_options(command: F) -> F:
    """``--wait``: follow the job the write starts to its end, exiting 0 Succeeded, 1 Failed, 2 Canceled."""
    option = click.option(
        "--wait", "-w", is_flag=True, help="Follow the job to its end; exit 0 succeeded, 1 failed, 2 canceled."
    )
    return output_option(option(command))
