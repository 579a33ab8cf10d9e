"""``python -m aetherv_cli``: the same as the ``aetherv`` command."""

from aetherv_cli.main import run

run()
