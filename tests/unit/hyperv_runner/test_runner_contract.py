"""The runner's wire contract and output parsing, against a fake transport (no network)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from functions.hyperv import errors
from functions.hyperv.runner import (
    MAX_COMMAND_LINE,
    POWERSHELL_PREFIX,
    PowerShellRunner,
    bootstrap_command,
    build_envelope,
    clean_stderr,
    load_script,
)
from functions.hyperv.transport import CommandResult, CommandTransport

SECRET = "hunter2-Sup3rSecret"


@dataclass
class FakeTransport(CommandTransport):
    """Records what the runner sends and answers with a canned result."""

    result: CommandResult
    host: str = "hv-fake"
    calls: list[tuple[str, bytes, float | None]] = field(default_factory=list)

    def execute(self, command_line: str, stdin: bytes = b"", *, timeout: float | None = None) -> CommandResult:
        self.calls.append((command_line, stdin, timeout))
        return self.result


def ok(result: Any, *, prefix: bytes = b"", suffix: bytes = b"", stderr: bytes = b"") -> CommandResult:
    return CommandResult(prefix + json.dumps({"ok": True, "result": result}).encode() + suffix, stderr, 0)


def failure(category: str, message: str = "boom") -> CommandResult:
    doc = {"ok": False, "error": {"category": category, "message": message, "type": "System.Exception"}}
    return CommandResult(json.dumps(doc).encode(), b"", 1)


PROGRESS_CLIXML = (
    b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    b'<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN>'
    b'<MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><AI>0</AI><Nil />'
    b"<PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj></Objs>"
)


def test_command_line_is_the_encoded_bootstrap_under_the_winrs_limit() -> None:
    command = bootstrap_command()
    assert command.startswith(POWERSHELL_PREFIX)
    assert len(command) < MAX_COMMAND_LINE
    encoded = command[len(POWERSHELL_PREFIX) :]
    assert base64.b64decode(encoded).decode("utf-16-le") == load_script("_bootstrap")


def test_bootstrap_reads_the_envelope_from_the_pipeline() -> None:
    """The bootstrap (decoded from the command line) takes its envelope from $input, never from the console."""
    encoded = bootstrap_command()[len(POWERSHELL_PREFIX) :]
    bootstrap = base64.b64decode(encoded).decode("utf-16-le")
    code = "\n".join(line for line in bootstrap.splitlines() if not line.lstrip().startswith("#"))
    assert "$input" in code
    assert "ConvertFrom-Json (@($input) -join" in code
    assert "OpenStandardInput" not in code
    assert "ReadToEnd" not in code


def test_the_envelope_is_one_line_of_ascii() -> None:
    """$input yields stdin line by line: newlines in scripts and parameters travel escaped, on one line."""
    envelope = build_envelope("ping", {"text": "a\r\nb\nc\u2028d"}, scripts=lambda name: "param($P)\r\nreturn 1\n")
    assert envelope.isascii()
    assert b"\n" not in envelope
    assert b"\r" not in envelope


def test_run_sends_the_fixed_command_and_the_envelope_on_stdin() -> None:
    transport = FakeTransport(ok({"pong": True}))
    params = {"name": "web'01\"; $(rm -rf /) `n | x", "unicode": "Аdmin 💾\u202e", "n": [1, None]}
    assert PowerShellRunner(transport, timeout=12).run("ping", params) == {"pong": True}
    [(command, stdin, timeout)] = transport.calls
    assert command == bootstrap_command()
    assert timeout == 12
    assert "web" not in command  # parameters never reach the command line
    assert SECRET not in command
    assert stdin.isascii()
    envelope = json.loads(stdin)
    assert envelope["operation"] == "ping"
    assert envelope["script"] == load_script("ping")
    assert json.loads(base64.b64decode(envelope["params"]).decode("utf-8")) == params


def test_twenty_kilobyte_script_goes_whole_into_the_envelope() -> None:
    big = "param($Params)\n" + "# " + "x" * 20_000 + "\nreturn 1\n"
    transport = FakeTransport(ok(1))
    PowerShellRunner(transport, scripts=lambda name: big).run("big", {})
    envelope = json.loads(transport.calls[0][1])
    assert envelope["script"] == big
    assert transport.calls[0][0] == bootstrap_command()  # the command line does not grow with the script


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [(b"\xef\xbb\xbf", b""), (b"", b"\r\n\r\n  "), (b"\xef\xbb\xbf  ", b"\n"), (b"\r\n", b"")],
)
def test_bom_and_whitespace_are_tolerated(prefix: bytes, suffix: bytes) -> None:
    transport = FakeTransport(ok({"a": "ü"}, prefix=prefix, suffix=suffix, stderr=PROGRESS_CLIXML))
    assert PowerShellRunner(transport).run("ping", {}) == {"a": "ü"}


def test_clixml_progress_noise_on_stderr_is_ignored() -> None:
    transport = FakeTransport(ok([1, 2], stderr=PROGRESS_CLIXML * 3))
    assert PowerShellRunner(transport).run("ping", {}) == [1, 2]


@pytest.mark.parametrize("category", sorted(errors.ERROR_CATEGORIES))
def test_each_category_maps_to_its_class(category: str) -> None:
    transport = FakeTransport(failure(category, "it failed"))
    with pytest.raises(errors.HyperVError) as info:
        PowerShellRunner(transport).run("ping", {})
    assert type(info.value) is errors.ERROR_CATEGORIES[category]
    assert info.value.category == category
    assert info.value.host == "hv-fake"
    assert info.value.message == "it failed"


def test_unknown_category_is_script_failed() -> None:
    with pytest.raises(errors.ScriptFailed, match="mystery"):
        PowerShellRunner(FakeTransport(failure("Mystery", "mystery"))).run("ping", {})


@pytest.mark.parametrize(
    "stdout",
    [
        b"not json at all",
        b'{"ok": true}{"ok": true}',
        b"[1, 2, 3]",
        b'{"result": 1}',
        b'{"ok": "yes"}',
        b'{"ok": false, "error": "flat"}',
        b"\xff\xfe\x00garbage",
        b'WARNING: something\r\n{"ok": true, "result": 1}',
    ],
)
def test_anything_else_is_a_protocol_error_without_params(stdout: bytes) -> None:
    transport = FakeTransport(CommandResult(stdout, b"", 0))
    with pytest.raises(errors.ProtocolError) as info:
        PowerShellRunner(transport).run("ping", {"password": SECRET})
    assert SECRET not in str(info.value)
    assert len(str(info.value)) < 400


def test_empty_stdout_reports_the_powershell_error_from_stderr() -> None:
    stderr = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b"<S S=\"Error\">The term 'Get-VMX' is not recognized_x000D__x000A_</S>"
        b'<S S="Error">    + CategoryInfo : ObjectNotFound_x000D__x000A_</S></Objs>'
    )
    with pytest.raises(errors.ProtocolError, match="Get-VMX' is not recognized") as info:
        PowerShellRunner(FakeTransport(CommandResult(b"", stderr, 1))).run("ping", {})
    assert "exit code 1" in str(info.value)


def test_clean_stderr_plain_text_passes_through() -> None:
    assert clean_stderr(b"'x' is not recognized\r\n") == "'x' is not recognized"
    assert clean_stderr(PROGRESS_CLIXML) == ""


@pytest.mark.parametrize("name", ["../secrets", "_bootstrap", "", "a/b", "x" * 200, "ping.ps1/.."])
def test_operation_names_are_validated(name: str) -> None:
    with pytest.raises(ValueError, match="operation"):
        build_envelope(name, {})


def test_unknown_operation_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        PowerShellRunner(FakeTransport(ok(1))).run("does-not-exist", {})


def test_params_must_be_json() -> None:
    with pytest.raises(ValueError, match="JSON-serialisable"):
        build_envelope("ping", {"bad": object()})
    with pytest.raises(ValueError, match="JSON-serialisable"):
        build_envelope("ping", {"nan": float("nan")})
