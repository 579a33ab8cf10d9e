"""The ``aetherv`` command: the root group (``--url``, ``-o``), sign-in, and the exit-code rules.

Click's own usage errors exit 2; here every usage error exits 3, like an authentication failure, so that 2 stays
"the job was canceled" (see :mod:`aetherv_cli.errors` for the table).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from aetherv_cli import __version__
from aetherv_cli.auth import METHODS, LoginState, auto_method, build_credential, config_dir, token_of
from aetherv_cli.errors import EXIT_FAILED, EXIT_USAGE, CliError
from aetherv_cli.output import FORMATS, Printer, consoles
from aetherv_cli.session import Overrides, Session, output_option, pass_session

__all__ = ["cli", "run"]

DEFAULT_URL = "http://localhost:7071"


class AethervGroup(click.Group):
    """The root group: runs the command and turns every ending into the documented exit code."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run, then exit: 3 for usage and auth errors, 1 for refused requests, else what the command chose."""
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except CliError as exc:
            printer = Printer("table", *consoles())
            printer.error(exc.message, exc.lines)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_FAILED if exc.exit_code == 1 else EXIT_USAGE)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_FAILED)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=AethervGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option(
    "--url",
    envvar="AETHERV_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The Aether-V app (env AETHERV_URL).",
)
@click.option(
    "--scope", envvar="AETHERV_SCOPE", default=None, help="Token scope (env AETHERV_SCOPE; default: the server's)."
)
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", help="Output format.")
@click.version_option(__version__, prog_name="aetherv")
@click.pass_context
def cli(ctx: click.Context, url: str, scope: str | None, output: str) -> None:
    """Aether-V from the terminal: VMs, jobs, hosts, inventory and IP pools.

    Exit codes: 0 success; 1 failed job, refused request or unreachable server; 2 canceled job; 3 usage or
    authentication error.
    """
    overrides = ctx.obj if isinstance(ctx.obj, Overrides) else Overrides()
    directory = config_dir(os.environ)
    session = Session(url=url.rstrip("/"), output=output, config_dir=directory, scope=scope, overrides=overrides)
    ctx.obj = session
    ctx.call_on_close(session.close)


@cli.command()
@click.option("--method", type=click.Choice(METHODS), default="auto", show_default=True, help="How to sign in.")
@click.option("--tenant", "tenant_id", default=None, help="Entra tenant (default: the server's).")
@click.option("--client-id", default=None, help="Public client app for device code (default: azure-identity's).")
@pass_session
def login(session: Session, method: str, tenant_id: str | None, client_id: str | None) -> None:
    """Sign in for the API's scope and remember how (Azure CLI, device code or client credentials)."""
    printer = session.printer
    config = session.ui_config()
    entra = config.get("entra") or {}
    if config.get("mode") == "none":
        printer.message(f"{session.url} runs without authentication (local mode): no sign-in is needed")
        return
    chosen = auto_method(os.environ) if method == "auto" else method
    scope = session.scope or (entra.get("scopes") or [None])[0]
    if not scope:
        raise click.UsageError("the server does not name its scope: give --scope or set AETHERV_SCOPE")
    state = LoginState(
        url=session.url,
        method=chosen,
        scope=str(scope),
        tenant_id=tenant_id or entra.get("tenant_id"),
        client_id=client_id,
    )
    credential = session.overrides.credential or build_credential(state, interactive=True)
    if chosen == "device-code" and session.overrides.credential is None:
        try:
            record = credential.authenticate(scopes=[state.scope])  # type: ignore[attr-defined]
        except Exception as exc:
            raise CliError(f"device-code sign-in failed: {exc}") from exc
        state = LoginState(**{**state.__dict__, "record": record.serialize()})
    token_of(credential, state.scope)
    path = state.save(session.config_dir)
    printer.message(f"signed in with {chosen} for {state.scope}; remembered in {path}")


@cli.command()
@pass_session
def logout(session: Session) -> None:
    """Forget the sign-in (later commands send no token)."""
    path = session.config_dir / "login.json"
    path.unlink(missing_ok=True)
    session.printer.message("signed out")


@cli.command()
@click.option("--refresh", is_flag=True, help="Sync every host now (a job), or one host with --host.")
@click.option("--host", default=None, help="With --refresh: only this host.")
@click.option("--wait", "-w", is_flag=True, help="With --refresh: follow the sync job to its end.")
@output_option
@pass_session
def inventory(session: Session, refresh: bool, host: str | None, wait: bool) -> None:
    """The inventory summary (totals, clusters, hosts, last sync); --refresh starts a sync."""
    if refresh:
        params = {"host": host} if host else None
        session.submitted(session.client.submit("POST", "/api/v1/inventory/refresh", params=params), wait)
    session.printer.inventory(session.client.call("GET", "/api/v1/inventory"))


def run() -> None:
    """The console script's entry point."""
    cli(prog_name="aetherv")


from aetherv_cli import commands  # noqa: E402  (registers the command groups on cli)

commands.register(cli)
