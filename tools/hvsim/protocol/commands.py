"""What a WinRS ``Command`` request starts on a simulated host: the command line, its stdin mode, the program.

A Command ([MS-WSMV] §3.1.4.11) names a command line (``rsp:Command`` and any ``rsp:Arguments``) and carries the
options ``WINRS_CONSOLEMODE_STDIN`` (stdin is a console, TRUE, or a pipe, FALSE) and ``WINRS_SKIP_CMD_SHELL``.
:func:`parse_command` reads them; :func:`choose_program` decides what runs:

- a command line over 8191 characters, cmd.exe's limit (``WINRS_SKIP_CMD_SHELL`` is FALSE, so cmd.exe starts it),
  gets a fault;
- the Aether-V bootstrap runs only under exactly :func:`bootstrap_command_line`, ``powershell.exe -NoLogo
  -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <b64>`` with ``<b64>`` the base64 of the UTF-16LE
  text of ``functions/hyperv/scripts/_bootstrap.ps1``, and only with ``WINRS_CONSOLEMODE_STDIN=FALSE``;
- any other PowerShell command gets PowerShell's error record, any other program cmd.exe's *not recognized*.

The two bootstrap rules are the simulator's strictness, not Windows': a real host would start the bootstrap under
other flags, and with console-mode stdin too — where ``powershell.exe`` sees no redirected input, the bootstrap's
``$input`` stays empty and the run fails with an unhelpful JSON error, or waits. hvsim answers both with a WS-Man
fault that names the problem instead, so a client that drifts from the contract fails its tests at once. The
expected command line is written out here rather than taken from the runner, so that a change to the runner's
command line is a visible change to this contract. Why stdin must be a pipe: :mod:`functions.hyperv.transport`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from tools.hvsim.protocol import wsman
from tools.hvsim.protocol.dispatch import CommandOutcome, ScriptSource, not_recognized, powershell_error, project_script
from tools.hvsim.protocol.errors import WSManFault

__all__ = [
    "BOOTSTRAP_FLAGS",
    "MAX_COMMAND_LINE",
    "CommandStart",
    "ProgramKind",
    "bootstrap_command_line",
    "choose_program",
    "classify_command",
    "parse_command",
]

MAX_COMMAND_LINE = 8191
"""cmd.exe's command-line limit, in characters."""

BOOTSTRAP_FLAGS = ("-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand")
"""The flags the bootstrap runs with, in this order, between ``powershell.exe`` and the encoded script."""

CONSOLEMODE_STDIN = "WINRS_CONSOLEMODE_STDIN"
_ENCODED_FLAG = re.compile(r"-(?:e|ec|en|enc|enco|encod|encode|encoded|encodedc\w*)$", re.IGNORECASE)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class CommandStart:
    """A parsed Command request: the command line, whether stdin is a console, and the client's command id."""

    command_line: str
    console_mode_stdin: bool
    command_id: str | None = None


class ProgramKind:
    """What a command line starts."""

    BOOTSTRAP = "bootstrap"
    BOOTSTRAP_VARIANT = "bootstrap-variant"
    POWERSHELL = "powershell"
    OTHER = "other"


def _boolean(name: str, value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    parsed = _BOOLEANS.get(value.strip().lower())
    if parsed is None:
        raise WSManFault.invalid_option(name, value)
    return parsed


def parse_command(request: wsman.WSManRequest) -> CommandStart:
    """The command line and stdin mode of a Command request (faults: no command line, or one over the limit).

    An absent ``WINRS_CONSOLEMODE_STDIN`` counts as TRUE, which is also what pywinrm sends unless told otherwise.
    """
    node = request.find("rsp:CommandLine")
    command_node = request.find("rsp:CommandLine/rsp:Command")
    if node is None or command_node is None:
        raise WSManFault.invalid_request("missing rsp:CommandLine/rsp:Command")
    parts = [(command_node.text or "").strip()]
    parts += [(arg.text or "") for arg in node.findall("rsp:Arguments", wsman.NS)]
    command_line = " ".join(part for part in parts if part)
    if len(command_line) > MAX_COMMAND_LINE:
        raise WSManFault.command_line_too_long(len(command_line), MAX_COMMAND_LINE)
    console = _boolean(CONSOLEMODE_STDIN, request.options.get(CONSOLEMODE_STDIN), default=True)
    return CommandStart(command_line, console, node.get("CommandId"))


def bootstrap_command_line(scripts: ScriptSource = project_script) -> str | None:
    """The one command line the bootstrap may run under (None when the project has no bootstrap script)."""
    bootstrap = scripts("_bootstrap")
    if bootstrap is None:
        return None
    encoded = base64.b64encode(bootstrap.decode("utf-8").encode("utf-16-le")).decode("ascii")
    return " ".join(("powershell.exe", *BOOTSTRAP_FLAGS, encoded))


def classify_command(command_line: str, scripts: ScriptSource = project_script) -> tuple[str, str]:
    """``(kind, detail)``: the bootstrap, the bootstrap under another command line, other PowerShell, or other.

    ``detail`` is the program for :data:`ProgramKind.OTHER` and the decoded script or arguments for
    :data:`ProgramKind.POWERSHELL`.
    """
    if command_line == bootstrap_command_line(scripts):
        return ProgramKind.BOOTSTRAP, ""
    words = command_line.split()
    if not words:
        return ProgramKind.OTHER, ""
    executable = words[0].strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    if executable not in ("powershell", "powershell.exe"):
        return ProgramKind.OTHER, words[0]
    for index, word in enumerate(words[1:-1], start=1):
        if _ENCODED_FLAG.match(word):
            try:
                script = base64.b64decode(words[index + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError):
                return ProgramKind.POWERSHELL, ""
            bootstrap = scripts("_bootstrap")
            if bootstrap is not None and script == bootstrap.decode("utf-8"):
                return ProgramKind.BOOTSTRAP_VARIANT, ""
            return ProgramKind.POWERSHELL, script
    return ProgramKind.POWERSHELL, " ".join(words[1:])


def _difference(command_line: str, expected: str) -> str:
    """The first word where ``command_line`` departs from ``expected`` (the encoded script shortened)."""
    got, want = command_line.split(), expected.split()

    def short(word: str) -> str:
        return word if len(word) <= 40 else word[:37] + "..."

    for index in range(max(len(got), len(want))):
        mine = got[index] if index < len(got) else "(nothing)"
        theirs = want[index] if index < len(want) else "(nothing)"
        if mine != theirs:
            return f"word {index + 1} is {short(mine)!r}, expected {short(theirs)!r}"
    return "the spacing differs"


def choose_program(start: CommandStart, scripts: ScriptSource = project_script) -> tuple[str, CommandOutcome | None]:
    """``(kind, outcome)``: what ``start`` runs; ``outcome`` is the fixed output of anything but the bootstrap.

    Raises :class:`WSManFault` for the bootstrap under another command line or with console-mode stdin.
    """
    kind, detail = classify_command(start.command_line, scripts)
    if kind == ProgramKind.BOOTSTRAP:
        if start.console_mode_stdin:
            raise WSManFault.console_mode_stdin()
        return kind, None
    if kind == ProgramKind.BOOTSTRAP_VARIANT:
        expected = bootstrap_command_line(scripts) or ""
        raise WSManFault.unexpected_command_line(_difference(start.command_line, expected), " ".join(BOOTSTRAP_FLAGS))
    if kind == ProgramKind.POWERSHELL:
        shown = detail[:60] + "…" if len(detail) > 60 else detail
        return kind, powershell_error(
            "hvsim simulates only the Aether-V bootstrap; this PowerShell command was not run: " + shown
        )
    return kind, not_recognized(detail)
