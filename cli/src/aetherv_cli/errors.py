"""The CLI's exit codes and the errors that end a command with one.

====  ==========================================================================================
code  meaning
====  ==========================================================================================
0     success (with ``--wait``: the job ``Succeeded``)
1     the job ``Failed``, the server refused the request (4xx other than 401/403), a bad request
      file, the server unreachable or failing (5xx)
2     the job was ``Canceled`` (or rejected, or its approval expired)
3     usage error (unknown command or option, bad value), or authentication/authorization (401/403,
      no credential)
====  ==========================================================================================
"""

from __future__ import annotations

from typing import Any

__all__ = ["EXIT_CANCELED", "EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "ApiError", "AuthError", "CliError"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANCELED = 2
EXIT_USAGE = 3


class CliError(Exception):
    """A command cannot go on: print ``message`` (and ``lines``) and exit with ``exit_code``."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lines = lines or []


class AuthError(CliError):
    """No token could be had, or the server answered 401/403 (exit 3)."""

    exit_code = EXIT_USAGE


class ApiError(CliError):
    """The server answered with an error status; ``problem`` is its RFC 9457 document when it sent one."""

    def __init__(self, status: int, problem: dict[str, Any] | None, text: str = "") -> None:
        self.status = status
        self.problem = problem or {}
        title = str(self.problem.get("title") or f"HTTP {status}")
        detail = self.problem.get("detail") or (text.strip()[:500] if not problem else "")
        message = f"{title} ({status})" + (f": {detail}" if detail else "")
        lines = []
        for error in self.problem.get("errors") or []:
            if isinstance(error, dict):
                lines.append(f"{error.get('field') or '(body)'}: {error.get('message', '')}")
        super().__init__(message, lines)
        if status in (401, 403):
            self.exit_code = EXIT_USAGE
