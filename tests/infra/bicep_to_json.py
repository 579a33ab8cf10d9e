"""Parse Bicep files with pycep and print them as one JSON document (run with the infra checks' interpreter).

pycep keeps string interpolations as raw text (``'${a}-${b}'``); this script parses each ``${...}`` expression too
and replaces the string with ``{"interpolation": [part, ...]}``, where a part is a literal string or
``{"expression": <parsed expression>}``, so the tests can evaluate or inspect them without parsing Bicep themselves.

Usage: ``python bicep_to_json.py ROOT`` prints ``{"<path relative to ROOT>": <pycep JSON>, ...}`` for every
``*.bicep`` file below ROOT.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pycep import BicepParser

_PARSER = BicepParser()


def _split_interpolation(text: str) -> list[tuple[bool, str]]:
    """Split ``text`` into (is_expression, text) parts at top-level ``${...}`` markers."""
    parts: list[tuple[bool, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            depth, j, quoted = 1, i + 2, False
            while j < len(text) and depth:
                char = text[j]
                if char == "'" and text[j - 1] != "\\":
                    quoted = not quoted
                elif not quoted and char == "{":
                    depth += 1
                elif not quoted and char == "}":
                    depth -= 1
                j += 1
            if literal:
                parts.append((False, "".join(literal)))
                literal = []
            parts.append((True, text[i + 2 : j - 1]))
            i = j
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append((False, "".join(literal)))
    return parts


def _expression(text: str) -> Any:
    parsed = _PARSER.parse(text=f"var expression = {text}\n")
    return _expand(parsed["variables"]["expression"]["value"])


def _expand(node: Any) -> Any:
    if isinstance(node, str):
        node = node.replace("\\'", "'")  # pycep keeps Bicep's \' escape in string literals
    if isinstance(node, str) and "${" in node:
        parts = _split_interpolation(node)
        return {"interpolation": [{"expression": _expression(text)} if is_expr else text for is_expr, text in parts]}
    if isinstance(node, dict):
        return {key: _expand(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand(item) for item in node]
    return node


def main(root: Path) -> None:
    """Print the parsed Bicep files below ``root`` as JSON."""
    documents = {
        path.relative_to(root).as_posix(): _expand(_PARSER.parse(file_path=path))
        for path in sorted(root.rglob("*.bicep"))
    }
    json.dump(documents, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
