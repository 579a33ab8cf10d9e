"""Errors of the simulated hosts: domain errors raised by operation handlers and WS-Management faults.

- :class:`ScriptError` is what an operation handler raises for a domain failure; the server renders it exactly as
  the real bootstrap renders ``Fail-AetherV '<category>' '<message>'``: an ``ok: false`` JSON document and exit 1.
- :class:`WSManFault` is a SOAP fault the WS-Management server answers with (HTTP 500), in the shape real WinRM
  uses and pywinrm parses (``s:Fault`` with code, subcode, reason and a ``WSManFault`` detail with a numeric code).

Numeric codes: 2150858793 (operation timeout on Receive; pywinrm turns it into ``WinRMOperationTimeoutError``),
2150858843 (shell not found) and 2150859173 (shell quota) are the values Windows sends. The code used for the
command-line limit follows the same ``0x8033xxxx`` family but is the simulator's choice. (A request above
``MaxEnvelopeSizekb`` is no fault: the server answers HTTP 413, see :mod:`tools.hvsim.protocol.server`.)
2150858809 and 2150858810 are Windows' ``ERROR_WSMAN_INVALID_OPTIONS`` and ``ERROR_WSMAN_INVALID_PARAMETER``; hvsim
sends them for the bootstrap rules of :mod:`tools.hvsim.protocol.commands`, which a real host does not enforce (it
runs the command, which then fails less clearly).
"""

from __future__ import annotations

__all__ = ["ScriptError", "WSManFault"]


class ScriptError(Exception):
    """A domain failure of an operation: ``category`` is one of the client's error class names (e.g. ``VmNotFound``)."""

    def __init__(self, category: str, message: str) -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message


class WSManFault(Exception):  # noqa: N818 - named as WinRM names it
    """A WS-Management SOAP fault: ``code`` is the numeric WSManFault code, ``subcode`` e.g. ``w:TimedOut``."""

    def __init__(self, subcode: str, code: int, reason: str, *, sender: bool = True) -> None:
        super().__init__(f"{subcode} ({code}): {reason}")
        self.subcode = subcode
        self.code = code
        self.reason = reason
        self.sender = sender

    @classmethod
    def operation_timeout(cls) -> WSManFault:
        """No output became available within the request's OperationTimeout (pywinrm retries the Receive)."""
        return cls(
            "w:TimedOut",
            2150858793,
            "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
            sender=False,
        )

    @classmethod
    def shell_not_found(cls, shell_id: str) -> WSManFault:
        """The ShellId selector names no live shell (deleted, or expired by the idle timeout)."""
        return cls(
            "w:InvalidSelectors",
            2150858843,
            f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not "
            "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer "
            "exists on the server. Provide the correct ShellId or create a new shell and retry the operation.",
        )

    @classmethod
    def command_not_found(cls, command_id: str) -> WSManFault:
        """The CommandId names no command of the shell."""
        return cls(
            "w:InvalidSelectors",
            2150858843,
            f"The request for the Windows Remote Shell command {command_id} failed because the command was not found.",
        )

    @classmethod
    def shell_quota(cls, maximum: int) -> WSManFault:
        """The user already has the maximum number of concurrent shells."""
        return cls(
            "w:QuotaLimit",
            2150859173,
            f"The WS-Management service cannot process the request. This user is allowed a maximum number of "
            f"{maximum} concurrent shells, which has been exceeded. Close existing shells or raise the quota for "
            "this user.",
        )

    @classmethod
    def command_line_too_long(cls, length: int, maximum: int) -> WSManFault:
        """The command line exceeds the WinRS limit."""
        return cls(
            "w:InvalidParameter",
            2150859211,
            f"The WS-Management service cannot process the request because the command line has {length} "
            f"characters; the maximum is {maximum}.",
        )

    @classmethod
    def action_not_supported(cls, action: str) -> WSManFault:
        """The action (or resource URI) is not one the simulated shell service implements."""
        return cls(
            "a:ActionNotSupported",
            2150858776,
            f"The WS-Management service does not support the specified action or resource: {action}",
        )

    @classmethod
    def invalid_request(cls, detail: str) -> WSManFault:
        """The envelope is malformed or lacks a required element."""
        return cls(
            "w:SchemaValidationError",
            2150858817,
            f"The SOAP XML in the message does not match the corresponding XML schema definition: {detail}",
        )

    @classmethod
    def invalid_option(cls, name: str, value: str) -> WSManFault:
        """An option of the request has a value of the wrong type (``xs:boolean`` expected)."""
        return cls(
            "w:InvalidOptions",
            2150858809,
            f"The WS-Management service cannot process the request because the option {name} has the invalid "
            f"value {value!r}; expected TRUE or FALSE.",
        )

    @classmethod
    def console_mode_stdin(cls) -> WSManFault:
        """The bootstrap was started with console-mode stdin (the simulator's rule; see ``commands``)."""
        return cls(
            "w:InvalidOptions",
            2150858809,
            "hvsim refuses the Aether-V bootstrap with WINRS_CONSOLEMODE_STDIN=TRUE (or absent): the bootstrap reads "
            "its envelope from the pipeline ($input), which powershell.exe fills only when stdin is a pipe. Start "
            "the command with WINRS_CONSOLEMODE_STDIN=FALSE (pywinrm: run_command(..., console_mode_stdin=False)).",
        )

    @classmethod
    def unexpected_command_line(cls, difference: str, flags: str) -> WSManFault:
        """The bootstrap under a command line other than the exact one (the simulator's rule; see ``commands``)."""
        return cls(
            "w:InvalidParameter",
            2150858810,
            f"hvsim runs the Aether-V bootstrap only as 'powershell.exe {flags} <base64 UTF-16LE of "
            f"_bootstrap.ps1>'; this command line differs: {difference}.",
        )
