"""PowerShell runner: runs an operation script from ``scripts/`` on a host and returns its JSON result.

Wire contract (the simulator in ``tools/hvsim`` relies on it too):

- Command line: ``powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <b64>``
  where ``<b64>`` is base64 of the UTF-16LE text of ``scripts/_bootstrap.ps1``. It never changes, stays far below
  the 8191-character WinRS limit, and contains no parameter.
- Stdin (a pipe, closed after): one JSON envelope ``{"operation", "script", "params"}`` where ``script`` is the full
  text of ``scripts/<operation>.ps1`` and ``params`` is base64 of the UTF-8 JSON of the parameters. The envelope is
  one line of ASCII (non-ASCII characters and newlines are JSON-escaped) so no codepage or line splitting can alter
  it. The transport starts the command with ``WINRS_CONSOLEMODE_STDIN=FALSE`` and the bootstrap reads the envelope
  from the pipeline, ``$input``, as Ansible's WinRM connection and bootstrap wrapper do (the reasons and sources
  are in :mod:`functions.hyperv.transport`). Scripts and parameters of any size fit, since stdin is sent in chunks.
- Stdout: exactly one JSON document, ``{"ok": true, "result": ...}`` (exit code 0) or
  ``{"ok": false, "error": {"category", "message", "type"}}`` (exit code 1), each with ``"log": [{"level",
  "message"}]``: the warnings the scripts wrote and the lines they chose to log (``Write-AetherVLog``), which go to
  the job's log (:mod:`functions.joblog.capture`). Categories map to exception classes
  through :func:`functions.hyperv.errors.error_for_category`; anything else is a :class:`ProtocolError`.

Parameters are data: they are never interpolated into script text or the command line.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from functions.hyperv.errors import ProtocolError, error_for_category
from functions.hyperv.transport import CommandResult, CommandTransport
from functions.joblog.capture import host_output

__all__ = [
    "MAX_COMMAND_LINE",
    "PowerShellRunner",
    "bootstrap_command",
    "build_batch_envelope",
    "build_envelope",
    "clean_stderr",
    "load_script",
    "parse_output",
]

log = logging.getLogger(__name__)

MAX_COMMAND_LINE = 8191
"""The WinRS (cmd.exe) command-line limit, in characters."""

POWERSHELL_PREFIX = "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
_OPERATION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
_EXCERPT = 160
_UTF8_BOM = b"\xef\xbb\xbf"


@cache
@lru_cache(maxsize=1)
def _library() -> dict[str, str]:
    """Helper functions shared by operation scripts: ``scripts/lib/<Function-Name>.ps1`` → its text."""
    folder = resources.files("functions.hyperv") / "scripts" / "lib"
    return {
        entry.name.removesuffix(".ps1"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".ps1")
    }


def _helpers_for(text: str) -> list[str]:
    """The library helpers ``text`` calls, directly or through other helpers, in name order."""
    library = _library()
    needed: set[str] = set()
    pending = [text]
    while pending:
        body = pending.pop()
        for name, helper in library.items():
            if name not in needed and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", body):
                needed.add(name)
                pending.append(helper)
    return sorted(needed)


@lru_cache(maxsize=64)
def load_script(name: str) -> str:
    """The text the runner sends for ``scripts/<name>.ps1``: the script with the library helpers it calls.

    Helpers live once in ``scripts/lib/`` and are inserted right after the script's ``param(...)`` line, so each
    run still sends one self-contained script (never a reference to a file on the host). ``name`` is
    ``_bootstrap`` or an operation name (letters, digits, ``_ . -``); anything else is refused.
    """
    if name != "_bootstrap" and not _OPERATION_NAME.fullmatch(name):
        raise ValueError(f"invalid operation name {name!r}")
    resource = resources.files("functions.hyperv") / "scripts" / f"{name}.ps1"
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"unknown operation {name!r}: no scripts/{name}.ps1") from None
    helpers = [] if name == "_bootstrap" else _helpers_for(text)
    if not helpers:
        return text
    first, _, rest = text.partition("\n")
    if not first.strip().lower().startswith("param("):
        raise RuntimeError(f"scripts/{name}.ps1 must start with its param(...) line")
    library = _library()
    return first + "\n" + "".join(library[helper] for helper in helpers) + rest


@lru_cache(maxsize=1)
def bootstrap_command() -> str:
    """The one command line every operation runs (the encoded bootstrap); checked against the WinRS limit."""
    encoded = base64.b64encode(load_script("_bootstrap").encode("utf-16-le")).decode("ascii")
    command = POWERSHELL_PREFIX + encoded
    if len(command) > MAX_COMMAND_LINE:
        raise RuntimeError(f"the bootstrap command line has {len(command)} characters; WinRS allows {MAX_COMMAND_LINE}")
    return command


def _step(operation: str, params: Mapping[str, Any], scripts: Callable[[str], str]) -> dict[str, str]:
    if not _OPERATION_NAME.fullmatch(operation):
        raise ValueError(f"invalid operation name {operation!r}")
    try:
        params_json = json.dumps(dict(params), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"parameters of operation {operation!r} are not JSON-serialisable: {exc}") from None
    return {
        "operation": operation,
        "script": scripts(operation),
        "params": base64.b64encode(params_json.encode("utf-8")).decode("ascii"),
    }


def build_envelope(operation: str, params: Mapping[str, Any], *, scripts: Callable[[str], str] = load_script) -> bytes:
    """The stdin envelope for ``operation``: its script text and the base64 UTF-8 JSON of ``params`` (ASCII)."""
    envelope = _step(operation, params, scripts)
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def build_batch_envelope(
    calls: Sequence[tuple[str, Mapping[str, Any]]], *, scripts: Callable[[str], str] = load_script
) -> bytes:
    """The stdin envelope that runs ``calls`` in order in one PowerShell process (``steps``: one entry per call)."""
    if not calls:
        raise ValueError("a batch needs at least one operation")
    envelope = {"steps": [_step(operation, params, scripts) for operation, params in calls]}
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def clean_stderr(stderr: bytes) -> str:
    """Human-readable text of a PowerShell stderr stream: CLIXML error records kept, progress records dropped."""
    text = stderr.decode("utf-8", errors="replace").lstrip("\ufeff")
    if not text.lstrip().startswith("#< CLIXML"):
        return text.strip()
    messages: list[str] = []
    for part in text.split("#< CLIXML"):
        chunk = part.strip()
        if not chunk:
            continue
        try:
            root = ET.fromstring(chunk)  # noqa: S314 - our own host's CLIXML, parsed only for error text
        except ET.ParseError:
            messages.append(chunk)
            continue
        for node in root.iter():
            if node.tag.rpartition("}")[2] == "S" and node.get("S") == "Error" and node.text:
                messages.append(node.text.replace("_x000D__x000A_", "\n").replace("_x000A_", "\n"))
    return "".join(messages).strip()


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"


def parse_output(result: CommandResult, *, operation: str, host: str | None) -> Any:
    """The ``result`` of the bootstrap's JSON document, or the mapped exception for ``ok: false``.

    Tolerates a UTF-8 BOM, surrounding whitespace and any stderr noise (CLIXML progress records); raises
    :class:`ProtocolError` for anything that is not exactly one well-formed document.
    """
    raw = result.stdout.strip()
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :].strip()
    if not raw:
        detail = _excerpt(clean_stderr(result.stderr)) or "no output"
        raise ProtocolError(
            f"operation {operation}: no result on stdout (exit code {result.exit_code}): {detail}", host=host
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        text = raw.decode("utf-8", errors="replace")
        raise ProtocolError(
            f"operation {operation}: stdout is not one JSON document (exit code {result.exit_code}): {_excerpt(text)}",
            host=host,
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("ok"), bool):
        raise ProtocolError(f"operation {operation}: result document lacks a boolean 'ok'", host=host)
    lines = document.get("log")
    if isinstance(lines, list) and lines:  # what the script reported: warnings and its own log lines
        host_output(host, operation, lines)
    if document["ok"]:
        if result.exit_code != 0:
            log.warning("operation %s on %s reported ok with exit code %s", operation, host, result.exit_code)
        return document.get("result")
    error = document.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("message", ""), str):
        raise ProtocolError(f"operation {operation}: failure document lacks an 'error' object", host=host)
    category = str(error.get("category") or "ScriptFailed")
    message = str(error.get("message") or f"operation {operation} failed")
    log.debug("operation %s on %s failed: %s (%s)", operation, host, category, error.get("type"))
    raise error_for_category(category)(message, host=host)


class PowerShellRunner:
    """Runs operation scripts through a :class:`~functions.hyperv.transport.CommandTransport`.

    One runner wraps one transport (one host, one thread); runs reuse the transport's shell. :meth:`run_many` runs
    operations that always go together in one command: one set of WinRM round trips instead of one per operation.
    ``timeout`` (seconds, optional) bounds each run on top of the WinRM timeouts. ``scripts`` loads an
    operation's script text by name (default: :func:`load_script`, the package's ``scripts/`` folder).
    """

    def __init__(
        self,
        transport: CommandTransport,
        *,
        timeout: float | None = None,
        scripts: Callable[[str], str] = load_script,
    ) -> None:
        self.transport = transport
        self.timeout = timeout
        self.scripts = scripts

    def run(self, operation: str, params: Mapping[str, Any]) -> Any:
        """Run ``scripts/<operation>.ps1`` with ``params`` and return its result (or raise a HyperVError)."""
        envelope = build_envelope(operation, params, scripts=self.scripts)
        result = self.transport.execute(bootstrap_command(), envelope, timeout=self.timeout)
        return parse_output(result, operation=operation, host=getattr(self.transport, "host", None))

    def run_many(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Run several operations in order in one command (one WinRM command, one PowerShell process).

        Returns their results in order; the first failure stops the rest and raises its HyperVError, with the
        operations before it done (each is safe to repeat, so the caller simply runs the batch again).
        """
        envelope = build_batch_envelope(calls, scripts=self.scripts)
        host = getattr(self.transport, "host", None)
        names = "+".join(operation for operation, _ in calls)
        result = self.transport.execute(bootstrap_command(), envelope, timeout=self.timeout)
        values = parse_output(result, operation=names, host=host)
        if not isinstance(values, list) or len(values) != len(calls):
            raise ProtocolError(f"operation {names}: expected {len(calls)} results in a list", host=host)
        return values
