"""Reading request files: the API's JSON body, or the same document in YAML (by extension, else by content)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from aetherv_cli.errors import CliError

__all__ = ["read_document"]


class _Loader(yaml.SafeLoader):
    """YAML's safe loader without implicit timestamps: ``2027-01-31T00:00:00Z`` stays the string the API wants."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_document(path: str) -> dict[str, Any]:
    """The JSON object in ``path`` (``-`` reads stdin); JSON for ``.json``, YAML for ``.yaml``/``.yml``, else either.

    A file that is not an object, or not valid JSON/YAML, is a :class:`CliError` (exit 1) naming where it broke.
    """
    import click

    with click.open_file(path, encoding="utf-8") as handle:
        text = handle.read()
    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".json":
            document = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            document = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
        else:
            try:
                document = json.loads(text)
            except ValueError:
                document = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise CliError(f"{path} must hold one object (the API's request body), not {type(document).__name__}")
    return document
