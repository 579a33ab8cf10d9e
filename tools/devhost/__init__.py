"""Local development host for v2-model Azure Functions Python apps.

Runs ``function_app.py`` (HTTP, timer and Durable triggers) without Azure Functions Core Tools;
see ``tools/devhost/README.md``.
"""

from .host import DevHost

__all__ = ["DevHost"]
