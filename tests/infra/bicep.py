"""Helpers for the infrastructure tests: load the parsed Bicep, render expressions back to text, evaluate a subset.

The Bicep files are parsed by pycep in the infra checks' own virtualenv (checkov pins its dependencies, so it is
kept out of the app's venv): :func:`load_bicep` runs ``bicep_to_json.py`` with that interpreter and caches the
result. In pycep's JSON an identifier and a string literal look the same (``name`` vs ``'name'``); :func:`render`
prints both bare, and :func:`evaluate` resolves a string through the scope when the name is bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


def infra_python() -> Path | None:
    """The interpreter of the infra checks' venv (``AETHERV_INFRA_PYTHON`` or ``.venv-infra``), if present."""
    configured = os.environ.get("AETHERV_INFRA_PYTHON")
    candidates = [Path(configured)] if configured else []
    bindir = "Scripts" if sys.platform == "win32" else "bin"
    candidates.append(ROOT / ".venv-infra" / bindir / ("python.exe" if sys.platform == "win32" else "python"))
    return next((path for path in candidates if path.is_file()), None)


def load_bicep(python: Path) -> dict[str, Any]:
    """Every ``*.bicep`` file under ``infra/`` parsed to JSON, keyed by its path relative to ``infra/``."""
    script = Path(__file__).with_name("bicep_to_json.py")
    result = subprocess.run(
        [str(python), str(script), str(INFRA)], capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"parsing the Bicep files failed:\n{result.stderr}")
    documents: dict[str, Any] = json.loads(result.stdout)
    return documents


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """The body of a resource or module declaration, looking through ``if (...)`` and ``[for ...]`` wrappers."""
    config: dict[str, Any] = resource["config"]
    while "config" in config and ("condition" in config or "loop_type" in config):
        config = config["config"]
    return config


def loop_source(resource: dict[str, Any]) -> str | None:
    """The array a ``[for ...]`` resource iterates over, or ``None`` if it is not a loop."""
    loop = resource["config"].get("loop_type")
    if loop is None:
        return None
    detail = loop["detail"]
    return str(detail.get("array_name") or detail.get("object_name"))


def render(node: Any) -> str:
    """Bicep-like source text of a parsed expression (identifiers and literals both bare)."""
    if isinstance(node, bool):
        return "true" if node else "false"
    if node is None:
        return "null"
    if isinstance(node, int | float | str):
        return str(node)
    if isinstance(node, list):
        return "[" + ", ".join(render(item) for item in node) + "]"
    if "interpolation" in node:
        parts = node["interpolation"]
        return "".join(part if isinstance(part, str) else "${" + render(part["expression"]) + "}" for part in parts)
    if "operator" in node:
        op = node["operator"]
        kind, operands = op["type"], op.get("operands", {})
        if kind == "property_accessor":
            return f"{render(operands['operand_1'])}.{render(operands['operand_2'])}"
        if kind == "index_accessor":
            return f"{render(operands['operand_1'])}[{render(operands['operand_2'])}]"
        if kind == "function_accessor":
            return f"{render(operands['operand_1'])}.{op.get('func_name') or operands.get('func_name')}()"
        if kind == "conditional":
            condition, true_value = render(operands["condition"]), render(operands["true_value"])
            return f"{condition} ? {true_value} : {render(operands['false_value'])}"
        if kind == "not":
            return f"!{render(operands['bool_value'])}"
        return f"{kind}(" + ", ".join(render(value) for value in operands.values()) + ")"
    if "function" in node:
        function = node["function"]
        args = [render(value) for key, value in function.get("parameters", {}).items() if value is not None]
        text = f"{function['type']}(" + ", ".join(args) + ")"
        return text + (f".{function['property_name']}" if function.get("property_name") else "")
    if "loop_type" in node:
        return f"[for ... in {node['loop_type']['detail'].get('array_name')}: {render(node['config'])}]"
    return "{" + ", ".join(f"{key}: {render(value)}" for key, value in node.items()) + "}"


def evaluate(node: Any, scope: dict[str, Any]) -> Any:
    """Evaluate the subset of Bicep expressions used to derive per-host values, in ``scope``."""
    if isinstance(node, str):
        return scope.get(node, node)
    if node is None or isinstance(node, bool | int | float):
        return node
    if isinstance(node, list):
        return [evaluate(item, scope) for item in node]
    if "interpolation" in node:
        parts = node["interpolation"]
        return "".join(part if isinstance(part, str) else str(evaluate(part["expression"], scope)) for part in parts)
    if "loop_type" in node:
        detail = node["loop_type"]["detail"]
        items = evaluate(detail["array_name"], scope)
        results = []
        for index, item in enumerate(items):
            inner = {**scope, detail["item_name"]: item}
            if "index_name" in detail:
                inner[detail["index_name"]] = index
            results.append(evaluate(node["config"], inner))
        return results
    if "operator" in node:
        return _evaluate_operator(node["operator"], scope)
    if "function" in node:
        return _evaluate_function(node["function"], scope)
    return {key: evaluate(value, scope) for key, value in node.items()}


def _evaluate_operator(op: dict[str, Any], scope: dict[str, Any]) -> Any:
    kind, operands = op["type"], op["operands"]
    if kind == "property_accessor":
        target = evaluate(operands["operand_1"], scope)
        name = operands["operand_2"]
        if isinstance(name, dict):  # a.(b.c): pycep nests property chains to the right
            return evaluate(name, {**scope, **target})
        return target[name]
    if kind == "index_accessor":
        return evaluate(operands["operand_1"], scope)[evaluate(operands["operand_2"], scope)]
    if kind == "conditional":
        chosen = "true_value" if evaluate(operands["condition"], scope) else "false_value"
        return evaluate(operands[chosen], scope)
    if kind == "not":
        return not evaluate(operands["bool_value"], scope)
    if kind == "add":
        return evaluate(operands["operand_1"], scope) + evaluate(operands["operand_2"], scope)
    if kind in ("equals", "not_equals"):
        same = evaluate(operands["operand_1"], scope) == evaluate(operands["operand_2"], scope)
        return same if kind == "equals" else not same
    if kind in ("and", "or"):
        left, right = evaluate(operands["operand_1"], scope), evaluate(operands["operand_2"], scope)
        return (left and right) if kind == "and" else (left or right)
    if kind == "function_accessor":  # resource.listKeys(): the scope provides it as a "listKeys()" member
        return evaluate(operands["operand_1"], scope)[f"{operands['func_name']}()"]
    raise NotImplementedError(f"operator {kind}")


def _evaluate_function(function: dict[str, Any], scope: dict[str, Any]) -> Any:
    kind = function["type"]
    if kind == "filter":  # filter(array, x => predicate): the predicate is evaluated per element
        parameters = function["parameters"]
        element = parameters["input_element"]
        items = evaluate(parameters["input_array"], scope)
        return [item for item in items if evaluate(parameters["expression"], {**scope, element: item})]
    args = {key: evaluate(value, scope) for key, value in function.get("parameters", {}).items()}
    if kind == "contains":
        return args["item_to_find"] in args["container"]
    if kind == "replace":
        return str(args["original_string"]).replace(args["old_string"], args["new_string"])
    if kind == "to_lower":
        return str(args["string_to_change"]).lower()
    if kind == "join":
        return args["delimiter"].join(str(item) for item in args["input_array"])
    if kind == "empty":
        return not args["item_to_test"]
    if kind == "starts_with":
        return str(args["string_to_search"]).lower().startswith(str(args["string_to_find"]).lower())
    if kind == "split":
        return str(args["input_string"]).split(args["delimiter"])
    if kind == "take":
        return args["original_value"][: args["number_to_take"]]
    if kind == "last":
        return args["arg_1"][-1]
    if kind == "union" and all(isinstance(value, list) for value in args.values()):
        merged: list[Any] = []
        for value in args.values():
            for item in value:
                if item not in merged:
                    merged.append(item)
        return merged
    if kind == "unique_string":  # deterministic like ARM's, but a stand-in: not the value ARM computes
        return "u" + hashlib.sha256("|".join(str(value) for value in args.values()).encode()).hexdigest()[:12]
    if kind == "string":
        value = args["value_to_convert"]
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    raise NotImplementedError(f"function {kind}")
