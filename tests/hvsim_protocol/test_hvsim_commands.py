"""What a Command request starts: the exact bootstrap command line, the stdin mode, and reading the pipeline."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest

from functions.hyperv.runner import bootstrap_command, load_script
from tools.hvsim.protocol import commands, dispatch
from tools.hvsim.protocol.commands import ProgramKind
from tools.hvsim.protocol.errors import WSManFault
from tools.hvsim.protocol.wsman import NS, WSManRequest


def command_request(command: str, options: dict[str, str], *, arguments: str | None = None) -> WSManRequest:
    args = f"<rsp:Arguments>{arguments}</rsp:Arguments>" if arguments is not None else ""
    body = ET.fromstring(
        f'<s:Body xmlns:s="{NS["s"]}" xmlns:rsp="{NS["rsp"]}">'
        f'<rsp:CommandLine CommandId="c0ffee"><rsp:Command>{command}</rsp:Command>{args}</rsp:CommandLine></s:Body>'
    )
    return WSManRequest(action="Command", resource_uri="cmd", message_id="m1", options=options, body=body)


def test_the_expected_command_line_is_the_runners_today() -> None:
    """hvsim writes the contract out on its own; today the runner's command line matches it exactly."""
    assert commands.bootstrap_command_line() == bootstrap_command()
    assert len(bootstrap_command()) <= commands.MAX_COMMAND_LINE


@pytest.mark.parametrize(
    ("options", "console"),
    [({}, True), ({"WINRS_CONSOLEMODE_STDIN": "TRUE"}, True), ({"WINRS_CONSOLEMODE_STDIN": "FALSE"}, False),
     ({"WINRS_CONSOLEMODE_STDIN": "false"}, False), ({"WINRS_CONSOLEMODE_STDIN": "0"}, False)],
)  # fmt: skip
def test_stdin_mode_is_read_from_the_options(options: dict[str, str], console: bool) -> None:
    start = commands.parse_command(command_request("hostname", options))
    assert (start.command_line, start.console_mode_stdin, start.command_id) == ("hostname", console, "c0ffee")


def test_a_stdin_mode_that_is_not_a_boolean_is_a_fault() -> None:
    with pytest.raises(WSManFault) as info:
        commands.parse_command(command_request("hostname", {"WINRS_CONSOLEMODE_STDIN": "maybe"}))
    assert (info.value.subcode, info.value.code) == ("w:InvalidOptions", 2150858809)


def test_command_and_arguments_make_one_command_line() -> None:
    start = commands.parse_command(command_request("ipconfig", {}, arguments="/all"))
    assert start.command_line == "ipconfig /all"


def test_classification() -> None:
    exact = bootstrap_command()
    encoded = exact.rsplit(" ", 1)[1]
    other = base64.b64encode("Get-VM".encode("utf-16-le")).decode()
    assert commands.classify_command(exact) == (ProgramKind.BOOTSTRAP, "")
    assert commands.classify_command("powershell -enc " + encoded)[0] == ProgramKind.BOOTSTRAP_VARIANT
    assert commands.classify_command(exact.replace("powershell.exe", "PowerShell.exe"))[0] == (
        ProgramKind.BOOTSTRAP_VARIANT
    )
    assert commands.classify_command("powershell.exe -EncodedCommand " + other) == (ProgramKind.POWERSHELL, "Get-VM")
    assert commands.classify_command("ipconfig /all") == (ProgramKind.OTHER, "ipconfig")


def test_only_the_exact_bootstrap_with_a_pipe_runs() -> None:
    piped = commands.CommandStart(bootstrap_command(), console_mode_stdin=False)
    assert commands.choose_program(piped) == (ProgramKind.BOOTSTRAP, None)
    with pytest.raises(WSManFault, match="WINRS_CONSOLEMODE_STDIN=TRUE"):
        commands.choose_program(commands.CommandStart(bootstrap_command(), console_mode_stdin=True))
    variant = bootstrap_command().replace("-NoLogo -NoProfile", "-NoProfile -NoLogo")
    with pytest.raises(WSManFault, match="word 2 is '-NoProfile', expected '-NoLogo'"):
        commands.choose_program(commands.CommandStart(variant, console_mode_stdin=False))


def test_other_programs_answer_like_windows() -> None:
    kind, outcome = commands.choose_program(commands.CommandStart("ipconfig /all", console_mode_stdin=True))
    assert kind == ProgramKind.OTHER
    assert outcome is not None
    assert outcome.stderr.startswith(b"'ipconfig' is not recognized")


@pytest.mark.parametrize(
    ("stdin", "text"),
    [
        (b'{"a":1}', '{"a":1}'),
        (b'{"a":1}\r\n', '{"a":1}'),
        (b'{"a":\r\n1}\n', '{"a":\n1}'),
        (b"one\rtwo\n\nthree", "one\ntwo\n\nthree"),
        (b"\xef\xbb\xbf{}", "{}"),
        (b"", ""),
    ],
)
def test_the_pipeline_is_read_line_by_line(stdin: bytes, text: str) -> None:
    assert dispatch.read_pipeline(stdin) == text


def test_an_envelope_split_over_lines_still_parses_and_an_empty_pipeline_fails() -> None:
    envelope = {"operation": "ping", "script": load_script("ping"), "params": base64.b64encode(b"{}").decode()}
    parsed = dispatch.parse_envelope(json.dumps(envelope, indent=1).encode())
    assert isinstance(parsed, dispatch.ParsedEnvelope)
    assert parsed.operation == "ping"
    empty = dispatch.parse_envelope(b"")
    assert isinstance(empty, dispatch.CommandOutcome)
    assert empty.exit_code == 1
    assert json.loads(empty.stdout)["error"]["category"] == "ScriptFailed"


def test_a_batch_envelope_parses_every_step_and_refuses_it_whole_when_one_is_not_the_project_script() -> None:
    from functions.hyperv.runner import build_batch_envelope

    good = build_batch_envelope([("ping", {"a": "1"}), ("list_isos", {})])
    parsed = dispatch.parse_envelope(good)
    assert isinstance(parsed, dispatch.ParsedBatch)
    assert [(step.operation, step.params) for step in parsed.steps] == [("ping", {"a": "1"}), ("list_isos", {})]

    tampered = json.loads(build_batch_envelope([("ping", {}), ("list_isos", {})]))
    tampered["steps"][1]["script"] += "\nRemove-Item C:\\ -Recurse"
    refused = dispatch.parse_envelope(json.dumps(tampered).encode())
    assert isinstance(refused, dispatch.CommandOutcome)
    assert b"HvsimScriptMismatch" in refused.stderr
    empty = dispatch.parse_envelope(b'{"steps": []}')
    assert isinstance(empty, dispatch.CommandOutcome)
    assert empty.exit_code == 1
