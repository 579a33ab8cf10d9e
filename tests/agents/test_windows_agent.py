"""The Windows guest agent without Windows: it parses, and its syntax tree keeps the rules that keep values exact.

The agent runs on Windows PowerShell 5.1 only, so these checks work on the tree-sitter syntax tree: no file
round trip through ``Get-Content``/``Set-Content``/``Out-File`` (they use the ANSI code page in 5.1), every
``[IO.File]`` text call names the UTF-8 encoding, no trimming outside the version handshake, nothing that
evaluates strings, no value variable in a log line; the wire names, error summaries and capabilities it
uses are the ones ``functions.guest`` defines; the answer file and SetupComplete script find and run it.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell

from functions.guest import names
from functions.guest.capabilities import Capability, parse_agent_mark
from functions.guest.crypto import encrypt_value
from functions.guest.kvp import compute_checksum

WINDOWS = Path(__file__).resolve().parents[2] / "agents" / "windows"
AGENT = WINDOWS / "AetherVGuestAgent.ps1"
SCRIPTS = sorted(WINDOWS.rglob("*.ps1"))
PESTER = WINDOWS / "tests" / "AetherVGuestAgent.Tests.ps1"


@pytest.fixture(scope="module")
def parser() -> Any:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: Any) -> str:
    return str(node.text.decode("utf-8"))


@pytest.fixture(scope="module")
def tree(parser: Any) -> Any:
    return parser.parse(AGENT.read_bytes())


def _nodes(tree: Any, kind: str) -> list[Any]:
    return [node for node in _walk(tree.root_node) if node.type == kind]


def _enclosing_function(node: Any) -> str | None:
    while node is not None:
        if node.type == "function_statement":
            for child in node.children:
                if child.type == "function_name":
                    return _text(child)
        node = node.parent
    return None


def _strings(tree: Any) -> list[str]:
    return [_text(node)[1:-1] for node in _nodes(tree, "string_literal") if _text(node)[:1] in "'\""]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_scripts_parse(parser: Any, path: Path) -> None:
    parsed = parser.parse(path.read_bytes())
    errors = [node.start_point for node in _walk(parsed.root_node) if node.type == "ERROR" or node.is_missing]
    assert not parsed.root_node.has_error, f"{path.name}: parse errors at {errors}"


def test_parser_sees_a_broken_script(parser: Any) -> None:
    assert parser.parse(b"function Broken { if ($a) { $b = ").root_node.has_error


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_no_code_page_file_round_trips_and_no_string_evaluation(parser: Any, path: Path) -> None:
    parsed = parser.parse(path.read_bytes())
    commands = {_text(node).lower() for node in _nodes(parsed, "command_name")}
    forbidden = {"get-content", "set-content", "add-content", "out-file", "invoke-expression", "iex"}
    forbidden |= {"convertto-securestring"}
    assert not commands & forbidden


def test_file_text_calls_name_utf8(tree: Any) -> None:
    calls = [
        node
        for node in _nodes(tree, "invokation_expression")
        if any(_text(child) in ("ReadAllText", "WriteAllText", "AppendAllText") for child in node.children)
    ]
    assert len(calls) >= 3
    for call in calls:
        arguments = next(child for child in call.children if child.type == "argument_list")
        assert _text(arguments).rstrip(")").endswith("$script:Utf8"), _text(call)
    assert "New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false" in AGENT.read_text()


def test_no_trimming_outside_the_version_handshake(tree: Any) -> None:
    for node in _nodes(tree, "member_name"):
        if _text(node).lower() in ("trim", "trimstart", "trimend"):
            assert _enclosing_function(node) == "ConvertTo-ProtocolVersion", node.start_point


def test_values_are_decoded_strictly_and_reassembled_as_bytes(tree: Any) -> None:
    text = AGENT.read_text()
    assert "$script:StrictUtf8.GetString($buffer.ToArray())" in text
    assert "[System.Text.Encoding]::Default" not in text


def test_log_lines_never_carry_values(tree: Any) -> None:
    secret_names = re.compile(
        r"\$(values|value|password|adminpassword|plain|secure|aeskey|result|items|piece)\b(?!\.Count)", re.I
    )
    logs = [node for node in _nodes(tree, "command") if _text(node).startswith("Write-AgentLog")]
    assert len(logs) >= 10
    for node in logs:
        assert not secret_names.search(_text(node)), _text(node)


def test_wire_names_are_the_host_names(tree: Any) -> None:
    used = {s for s in _strings(tree) if s.startswith("hlvmm.")}
    known = {
        value
        for name, value in vars(names).items()
        if name.endswith("_KEY") and isinstance(value, str) and value.startswith("hlvmm.")
    }
    assert used - {names.DATA_PREFIX} <= known
    assert {names.GUEST_AGENT_KEY, names.HOST_NONCE_KEY, names.GUEST_PUBLIC_KEY_KEY, names.CHECKSUM_KEY} <= used


def test_states_and_summaries_are_protocol_values(tree: Any) -> None:
    strings = set(_strings(tree))
    states = {s for s in strings if s in {*names.HostState, *names.GuestState}}
    assert states == {*names.HostState, *names.GuestState}
    summaries = {s for s in strings if s.startswith("error ")}
    allowed = {str(summary) for summary in names.ErrorSummary} | {
        names.module_error_summary(module) for module in ("mod_general", "mod_net", "mod_domain")
    }
    for summary in summaries:
        assert summary in allowed or summary.startswith(("error verifying:", "error applying:unsupported ")), summary


def test_supported_keys_and_capabilities(tree: Any) -> None:
    text = AGENT.read_text()
    supported = re.search(r"\$script:SupportedDataKeys = @\((.*?)\)", text, re.S)
    caps = re.search(r"\$script:Capabilities = @\((.*?)\)", text, re.S)
    assert supported is not None
    assert caps is not None
    supported_keys = set(re.findall(r"'([a-z0-9_]+)'", supported[1]))
    capabilities = re.findall(r"'([a-z0-9-]+)'", caps[1])
    assert supported_keys == set(names.DATA_KEYS) - {"ansible_ssh_user", "ansible_ssh_key"}
    assert set(capabilities) <= {str(cap) for cap in Capability}
    assert {"exact-values", "chunks", "dns-suffix", "domain-join", "join-outcome", "nonce"} <= set(capabilities)
    mark = parse_agent_mark(f"aetherv-windows/1.0.0;caps={','.join(capabilities)};nonce={'n' * 32};key={'0' * 64}")
    assert mark is not None
    assert mark.os_family == "windows"
    assert "'{0}/{1};caps={2}' -f $script:AgentName, $script:AgentVersion" in text


def test_applied_is_reported_only_after_verification(tree: Any) -> None:
    writes = [
        node
        for node in _nodes(tree, "command")
        if _text(node).startswith("Set-GuestItem") and "'provisioningapplied'" in _text(node)
    ]
    assert [_enclosing_function(node) for node in writes] == ["Invoke-VerifyRun"]
    text = AGENT.read_text()
    verify = text[text.index("function Invoke-VerifyRun") :]
    assert verify.index("Test-Applied") < verify.index("'provisioningapplied'")
    assert "Test-ComputerSecureChannel" in text
    assert "Add-Computer @arguments" in text


def test_answer_file_runs_setupcomplete_from_the_iso() -> None:
    root = ET.parse(WINDOWS / "unattend.xml").getroot()
    namespace = {"u": "urn:schemas-microsoft-com:unattend"}
    commands = [element.text or "" for element in root.iterfind(".//u:RunSynchronousCommand/u:Path", namespace)]
    assert any("\\aetherv\\SetupComplete.cmd" in command for command in commands)
    assert "p@sSw0rd" not in (WINDOWS / "unattend.xml").read_text()
    setup = (WINDOWS / "SetupComplete.cmd").read_bytes()
    assert b"\r\n" in setup
    assert b"\n" not in setup.replace(b"\r\n", b"")
    assert b"\\aetherv\\Install-AetherVGuestAgent.ps1" in setup
    installer = (WINDOWS / "Install-AetherVGuestAgent.ps1").read_text()
    assert "'AetherVGuestAgent.ps1', 'version'" in installer
    assert "-TaskName 'AetherVGuestAgent'" in installer
    assert "$script:TaskName = 'AetherVGuestAgent'" in AGENT.read_text()


@pytest.mark.parametrize("path", sorted(p for p in WINDOWS.rglob("*") if p.is_file()), ids=lambda p: p.name)
def test_windows_files_are_ascii(path: Path) -> None:
    """Windows PowerShell 5.1 reads a script without BOM in the ANSI code page: keep every file ASCII."""
    path.read_bytes().decode("ascii")


def test_pester_vectors_match_the_host_code() -> None:
    text = PESTER.read_text()
    piece = re.search(r"-Piece '([A-Za-z0-9+/=]+)'", text)
    plain = re.search(r"FromBase64String\('([A-Za-z0-9+/=]+)'\)", text)
    checksum = re.search(r"Get-ProvisioningChecksum -Values \$values \| Should -Be '([A-Za-z0-9+/=]+)'", text)
    assert piece is not None
    assert plain is not None
    assert checksum is not None
    iv = base64.b64decode(piece[1])[:16]
    plaintext = base64.b64decode(plain[1]).decode("utf-8")
    assert encrypt_value(bytes(range(32)), plaintext, random=lambda n: iv[:n]) == piece[1]
    worked = {
        "hlvmm.data.guest_host_name": "vm01",
        "hlvmm.data.guest_la_uid": "admin",
        "hlvmm.data.guest_la_pw": "P@ssw0rd!",
        "hlvmm.data.guest_v4_dns2": "   ",
    }
    assert compute_checksum(worked) == checksum[1]
    assert ". $agent" in text
    assert "if ($MyInvocation.InvocationName -ne '.')" in AGENT.read_text()
