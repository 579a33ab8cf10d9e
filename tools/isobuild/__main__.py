"""``python -m tools.isobuild [--output DIR] [--version V] [--source-date-epoch N]``: build the provisioning ISOs.

``python -m tools.isobuild upload (--host NAME … | --all)`` uploads them to Hyper-V hosts
(:mod:`tools.isobuild.upload`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.isobuild.builder import DEFAULT_OUTPUT, DEFAULT_SOURCE_DATE_EPOCH, build_all


def main(argv: Sequence[str] | None = None) -> int:
    """Build both ISOs and print where they are (or, with ``upload`` first, upload them)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["upload"]:
        from tools.isobuild import upload

        return upload.main(arguments[1:])
    parser = argparse.ArgumentParser(prog="python -m tools.isobuild", description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="folder for the ISOs (agents/dist)")
    parser.add_argument("--version", help="protocol version to stamp (default: agents/version)")
    parser.add_argument(
        "--source-date-epoch",
        type=int,
        default=int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)),
        help="timestamp of every file and volume date, in seconds since 1970 (default: $SOURCE_DATE_EPOCH or "
        "2025-01-01)",
    )
    args = parser.parse_args(arguments)
    try:
        built = build_all(args.output, version=args.version, source_date_epoch=args.source_date_epoch)
    except (OSError, ValueError) as exc:
        print(f"isobuild: {exc}", file=sys.stderr)
        return 1
    print(f"provisioning version {built.version}")
    for path in (built.linux, built.windows, built.version_file, built.checksums):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
