"""Operation dispatch: what the simulated ``powershell.exe`` does with the commands it is given.

Operation handlers register by name::

    from tools.hvsim.protocol.dispatch import OperationContext, register
    from tools.hvsim.protocol.errors import ScriptError

    @register("vm.get")
    def get_vm(ctx: OperationContext, params: dict[str, Any]) -> Any:
        vm = ctx.backend.find_vm(params["name"])          # ctx.backend: the host model, opaque here
        if vm is None:
            raise ScriptError("VmNotFound", f"VM '{params['name']}' was not found")
        return vm.to_json()

Which command line runs the bootstrap is :mod:`tools.hvsim.protocol.commands`' business. The bootstrap's stdin
is then read the way the real bootstrap reads it: from the pipeline (``$input``: lines of the piped stdin, joined
with newlines, see :func:`read_pipeline`), as one JSON envelope whose ``script`` must be byte-identical to
``scripts/<operation>.ps1`` (the simulator cannot run other PowerShell) and whose ``params`` are base64 UTF-8 JSON
— or whose ``steps`` list holds several such operations (:class:`ParsedBatch`), run in order until one fails.
The handler's result or :class:`~tools.hvsim.protocol.errors.ScriptError` is rendered as the bootstrap's one JSON
document and exit code. Anything else fails like Windows would (cmd's *not recognized* message, or a PowerShell
error record).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from functions.hyperv.runner import load_script
from tools.hvsim.protocol.errors import ScriptError

__all__ = [
    "CommandOutcome",
    "Handler",
    "OperationContext",
    "ParsedBatch",
    "ParsedEnvelope",
    "ScriptSource",
    "handler_for",
    "not_recognized",
    "parse_envelope",
    "powershell_error",
    "project_script",
    "read_pipeline",
    "register",
    "registered_operations",
    "render_failure",
    "render_success",
    "run_envelope",
    "unregister",
]

log = logging.getLogger(__name__)


@dataclass
class OperationContext:
    """What a handler gets besides its parameters: the host's name and model, and the decoded parameters."""

    host_name: str
    backend: object
    received: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[OperationContext, dict[str, Any]], Any]

_handlers: dict[str, Handler] = {}
_handlers_lock = threading.Lock()


def register(operation: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``handler`` the simulation of ``scripts/<operation>.ps1`` (re-registering replaces it)."""

    def decorator(handler: Handler) -> Handler:
        with _handlers_lock:
            _handlers[operation] = handler
        return handler

    return decorator


def unregister(operation: str) -> None:
    """Remove the handler of ``operation`` (for tests)."""
    with _handlers_lock:
        _handlers.pop(operation, None)


def handler_for(operation: str) -> Handler | None:
    """The registered handler of ``operation``, if any."""
    with _handlers_lock:
        return _handlers.get(operation)


def registered_operations() -> list[str]:
    """Names of all registered operations, sorted."""
    with _handlers_lock:
        return sorted(_handlers)


@register("ping")
def _ping(ctx: OperationContext, params: dict[str, Any]) -> Any:
    # $env:COMPUTERNAME is the upper-case NetBIOS name (at most 15 characters).
    return {
        "computer_name": ctx.host_name.split(".")[0].upper()[:15],
        "ps_version": "5.1.20348.2849",
        "echo": params,
    }


# -- the project's scripts ---------------------------------------------------------------------------------------

_OPERATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@cache
def project_script(name: str) -> bytes | None:
    """The script the project's runner sends for ``name`` (with its library helpers), or ``None`` if absent."""
    try:
        return load_script(name).encode("utf-8")
    except ValueError:
        return None


ScriptSource = Callable[[str], bytes | None]
"""Where the simulator finds the scripts the client may send: :func:`project_script` unless a test injects one."""


# -- rendering like Windows --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandOutcome:
    """What a finished command wrote and its exit code."""

    stdout: bytes
    stderr: bytes
    exit_code: int


def not_recognized(command: str) -> CommandOutcome:
    """cmd.exe's answer to an unknown program."""
    message = (
        f"'{command}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )
    return CommandOutcome(b"", message.encode("utf-8"), 1)


def powershell_error(message: str, *, error_id: str = "HvsimNotSimulated") -> CommandOutcome:
    """A PowerShell error record on stderr, serialised as CLIXML like ``powershell.exe`` does, exit code 1."""
    text = f"{message}\r\n    + CategoryInfo          : NotImplemented: (:) [], RuntimeException\r\n"
    text += f"    + FullyQualifiedErrorId : {error_id}\r\n \r\n"
    encoded = escape(text).replace("\r", "_x000D_").replace("\n", "_x000A_")
    clixml = (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
        '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for '
        "first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS>"
        f'</Obj><S S="Error">{encoded}</S></Objs>'
    )
    return CommandOutcome(b"", clixml.encode("utf-8"), 1)


def _document(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_script_log: ContextVar[list[dict[str, str]] | None] = ContextVar("hvsim_script_log", default=None)


def script_log(message: str, level: str = "info") -> None:
    """What a script's ``Write-AetherVLog`` (or a warning it writes) adds to the bootstrap's ``log``."""
    lines = _script_log.get()
    if lines is not None:
        lines.append({"level": level, "message": message})


@contextmanager
def collecting_log() -> Iterator[list[dict[str, str]]]:
    """Collect the ``script_log`` lines of the operations run inside the block (one bootstrap process)."""
    lines: list[dict[str, str]] = []
    token = _script_log.set(lines)
    try:
        yield lines
    finally:
        _script_log.reset(token)


def _lines() -> list[dict[str, str]]:
    return list(_script_log.get() or [])


def render_success(result: Any) -> CommandOutcome:
    """The bootstrap's output for a script that returned ``result`` (with the lines logged so far)."""
    return CommandOutcome(_document({"ok": True, "result": result, "log": _lines()}), b"", 0)


def render_failure(category: str, message: str, error_type: str = "System.Exception") -> CommandOutcome:
    """The bootstrap's output for a failed script (with the lines logged so far)."""
    error = {"category": category, "message": message, "type": error_type}
    return CommandOutcome(_document({"ok": False, "error": error, "log": _lines()}), b"", 1)


# -- running the bootstrap's envelope ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEnvelope:
    """A decoded stdin envelope."""

    operation: str
    params: dict[str, Any]


def read_pipeline(stdin: bytes) -> str:
    """What the bootstrap's ``@($input) -join "`n"`` makes of piped ``stdin``.

    ``powershell.exe`` hands a redirected stdin to the script as ``$input``, one string per line (CR, LF or CRLF
    ends a line; a final line break adds no empty line). The shell's codepage is UTF-8 (65001, as the transport
    opens it); a byte-order mark is dropped.
    """
    text = stdin.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)


@dataclass(frozen=True)
class ParsedBatch:
    """A decoded ``steps`` envelope: operations the bootstrap runs in order in one process."""

    steps: tuple[ParsedEnvelope, ...]


def _parse_step(envelope: object, scripts: ScriptSource) -> ParsedEnvelope | CommandOutcome:
    if not isinstance(envelope, dict) or not all(isinstance(envelope.get(k), str) for k in ("script", "params")):
        return render_failure(
            "ScriptFailed", "Cannot bind argument to parameter because it is null.", "System.ArgumentException"
        )
    operation = str(envelope.get("operation") or "")
    expected = scripts(operation) if _OPERATION_NAME.fullmatch(operation) else None
    if expected is None or envelope["script"].encode("utf-8") != expected:
        return powershell_error(
            f"hvsim cannot run this script: it is not byte-identical to functions/hyperv/scripts/{operation}.ps1",
            error_id="HvsimScriptMismatch",
        )
    try:
        params = json.loads(base64.b64decode(envelope["params"], validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        return render_failure("ScriptFailed", "The input is not a valid Base-64 string.", "System.FormatException")
    if not isinstance(params, dict):
        return render_failure("ScriptFailed", "Parameters must be a JSON object.", "System.ArgumentException")
    return ParsedEnvelope(operation, params)


def parse_envelope(
    stdin: bytes, scripts: ScriptSource = project_script
) -> ParsedEnvelope | ParsedBatch | CommandOutcome:
    """Decode the stdin envelope as the bootstrap does; a failure becomes the bootstrap's (or PowerShell's) output.

    A ``steps`` envelope is checked whole before anything runs (each script byte-identical, each ``params``
    decodable). The real bootstrap would run the steps before a malformed one; only a client bug sends one, and
    refusing it whole makes that bug fail loudly in every test instead of half-running.
    """
    text = read_pipeline(stdin)
    if not text:
        return render_failure(
            "ScriptFailed",
            "Cannot bind argument to parameter 'InputObject' because it is an empty string.",
            "System.Management.Automation.ParameterBindingValidationException",
        )
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError:
        return render_failure("ScriptFailed", "Invalid JSON primitive.", "System.ArgumentException")
    if isinstance(envelope, dict) and "steps" in envelope:
        items = envelope["steps"]
        if not isinstance(items, list) or not items:
            return render_failure("ScriptFailed", "The steps list is empty.", "System.ArgumentException")
        steps: list[ParsedEnvelope] = []
        for item in items:
            step = _parse_step(item, scripts)
            if isinstance(step, CommandOutcome):
                return step
            steps.append(step)
        return ParsedBatch(tuple(steps))
    return _parse_step(envelope, scripts)


def run_envelope(parsed: ParsedEnvelope, context: OperationContext) -> CommandOutcome:
    """Run the registered handler of ``parsed.operation`` and render its outcome as the bootstrap would."""
    handler = handler_for(parsed.operation)
    if handler is None:
        return render_failure(
            "ScriptFailed",
            f"hvsim has no handler for operation '{parsed.operation}'",
            "System.NotImplementedException",
        )
    try:
        result = handler(context, parsed.params)
    except ScriptError as exc:
        return render_failure(exc.category, exc.message)
    except Exception as exc:
        log.exception("hvsim handler for %s on %s failed", parsed.operation, context.host_name)
        return render_failure(
            "ScriptFailed", f"{type(exc).__name__}: {exc}", "System.Management.Automation.RuntimeException"
        )
    try:
        return render_success(result)
    except (TypeError, ValueError) as exc:
        log.exception("hvsim handler for %s returned a value that is not JSON", parsed.operation)
        return render_failure(
            "ScriptFailed", f"result is not JSON-serialisable: {exc}", "System.InvalidOperationException"
        )
