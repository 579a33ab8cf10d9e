"""Static checks: scripts never carry format placeholders, Python never formats script text, every .ps1 parses."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
import tree_sitter  # pinned in the dev requirements (tree-sitter, tree-sitter-powershell)
import tree_sitter_powershell

import functions.hyperv
from functions.hyperv.runner import load_script

PACKAGE = Path(functions.hyperv.__file__).parent
SCRIPTS = sorted((PACKAGE / "scripts").rglob("*.ps1"))
MODULES = sorted(PACKAGE.rglob("*.py"))

# Python format placeholders: {0}, {0:x}, {name}, {name!r}, %(name)s, %s/%d. PowerShell's ${braced} variables
# and script blocks ({ ... }, {$_}) do not match; write `{ break }` rather than `{break}`.
PLACEHOLDER = re.compile(
    r"(?<![$\w])\{(?:\d+|[A-Za-z_]\w*)(?:![rsa])?(?::[^{}\s]*)?\}"
    r"|%\([A-Za-z_]\w*\)[sdrif]"
    r"|%[sd]\b"
)
# Identifiers that hold script text or what is sent with it.
SCRIPT_NAMES = re.compile(r"(?i:script|ps1|bootstrap|envelope|powershell)|command_line")


def test_there_are_scripts() -> None:
    names = {path.name for path in SCRIPTS}
    assert {"_bootstrap.ps1", "ping.ps1"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_has_no_python_format_placeholder(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [(text.count("\n", 0, m.start()) + 1, m.group()) for m in PLACEHOLDER.finditer(text)]
    assert not found, f"{path.name}: format placeholders at (line, text) {found}"


@pytest.mark.parametrize("text", ["'{0}' -f $x", "x {name} y", "%(name)s", "'%s'", "{0:N2}", "{vm!r}"])
def test_placeholder_pattern_catches(text: str) -> None:
    assert PLACEHOLDER.search(text)


@pytest.mark.parametrize("text", ["${env:COMPUTERNAME}", "{ $_.Name }", "{$_}", "@{ ok = $true }", "% { $_ }"])
def test_placeholder_pattern_allows_powershell(text: str) -> None:
    assert not PLACEHOLDER.search(text)


def _names(node: ast.AST) -> set[str]:
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
    return found


def _formatting_on_script_text(tree: ast.AST) -> list[tuple[int, str]]:
    offences: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        target: ast.AST | None = None
        kind = ""
        if isinstance(node, ast.JoinedStr):
            target, kind = node, "f-string"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            target, kind = node, ".format()"
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = node.left
            if isinstance(left, ast.Constant | ast.JoinedStr) or bool(SCRIPT_NAMES.search(" ".join(_names(left)))):
                target, kind = node, "% formatting"
        if target is None:
            continue
        suspicious = [name for name in _names(target) if SCRIPT_NAMES.search(name)]
        if suspicious:
            offences.append((getattr(node, "lineno", 0), f"{kind} with {sorted(suspicious)}"))
    return offences


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_python_never_formats_script_text(path: Path) -> None:
    offences = _formatting_on_script_text(ast.parse(path.read_text(encoding="utf-8")))
    assert not offences, f"{path.name}: string formatting on script text at {offences}"


@pytest.mark.parametrize(
    "source",
    [
        "script = f'param() {value}'\ntext = f'{script} x'",
        "cmd = 'powershell {0}'.format(bootstrap)",
        "body = '%s' % envelope",
        "line = POWERSHELL_PREFIX + f'{load_script(name)}'",
    ],
)
def test_formatting_check_catches(source: str) -> None:
    assert _formatting_on_script_text(ast.parse(source))


@pytest.fixture(scope="module")
def parser() -> Any:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_as_powershell(parser: Any, path: Path) -> None:
    tree = parser.parse(path.read_bytes())
    errors = [node for node in _walk(tree.root_node) if node.type == "ERROR" or node.is_missing]
    assert not tree.root_node.has_error, f"{path.name}: parse errors at {[e.start_point for e in errors]}"


@pytest.mark.parametrize("path", [p for p in SCRIPTS if p.parent.name == "scripts"], ids=lambda p: p.name)
def test_script_as_sent_parses_as_powershell(parser: Any, path: Path) -> None:
    """What the runner sends (the script with its library helpers inserted) parses too."""
    tree = parser.parse(load_script(path.stem).encode("utf-8"))
    assert not tree.root_node.has_error, path.name


def test_parser_rejects_broken_powershell(parser: Any) -> None:
    assert parser.parse(b"function Broken( { $a = ").root_node.has_error


def _walk(node):  # type: ignore[no-untyped-def]
    yield node
    for child in node.children:
        yield from _walk(child)
