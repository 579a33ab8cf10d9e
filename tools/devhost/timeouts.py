"""``functionTimeout``: how long an invocation may run, and what the host says when it runs longer.

host.json ``functionTimeout`` is a .NET ``TimeSpan`` (``[d.]hh:mm:ss[.fffffff]``); ``-1`` means
no limit. When it is missing the devhost uses 30 minutes, the default of the Premium and
Dedicated plans (Consumption's is 5 minutes)
(https://learn.microsoft.com/azure/azure-functions/functions-host-json#functiontimeout,
https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout).

The WebJobs SDK's ``FunctionExecutor`` fails an invocation past its deadline with
``FunctionTimeoutException("Timeout value of {timeout} was exceeded by function: {name}")``
(Azure/azure-webjobs-sdk ``src/Microsoft.Azure.WebJobs.Host/Executors/FunctionExecutor.cs``,
``TryHandleTimeoutAsync``); ``name`` is the function's short name, ``Functions.<function>``. This
module reproduces those texts; :mod:`tools.devhost.worker` enforces the deadline.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)
_TIMESPAN = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?")


class TimeoutConfigError(ValueError):
    """A ``functionTimeout`` value that is not a .NET TimeSpan."""


def parse_timespan(text: str) -> timedelta | None:
    """Parse host.json ``functionTimeout``; ``None`` for ``-1`` (no limit)."""
    value = text.strip()
    if value in ("-1", "-00:00:01"):
        return None
    match = _TIMESPAN.fullmatch(value)
    if match is None:
        raise TimeoutConfigError(f"functionTimeout '{text}' is not a TimeSpan like '00:10:00' (or -1 for no limit)")
    negative, days, hours, minutes, seconds, fraction = match.groups()
    span = timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds),
        microseconds=int(((fraction or "") + "0000000")[:7]) // 10,
    )
    if negative or span <= timedelta(0):
        raise TimeoutConfigError(f"functionTimeout '{text}' must be positive (or -1 for no limit)")
    return span


def format_timespan(span: timedelta) -> str:
    """Format like .NET ``TimeSpan.ToString()``: ``[d.]hh:mm:ss[.fffffff]``."""
    ticks = round(span.total_seconds() * 10_000_000)
    days, rest = divmod(ticks, 86_400 * 10_000_000)
    seconds, fraction = divmod(rest, 10_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if days:
        text = f"{days}.{text}"
    if fraction:
        text = f"{text}.{fraction:07d}"
    return text


class FunctionTimeout(TimeoutError):  # noqa: N818 - named after the host's FunctionTimeoutException
    """An invocation ran past ``functionTimeout``; the message is the host's."""

    def __init__(self, function_name: str, timeout: timedelta, invocation_id: str | None = None) -> None:
        """Describe the timed-out invocation of ``function_name``."""
        self.function_name = function_name
        self.timeout = timeout
        self.invocation_id = invocation_id or str(uuid.uuid4())
        self.method_name = f"Functions.{function_name}"
        super().__init__(f"Timeout value of {format_timespan(timeout)} was exceeded by function: {self.method_name}")

    def details(self) -> str:
        """The exception as the Durable extension serialises it into ``TaskFailed.Details``.

        The extension's error converter is Json.NET with ``TypeNameHandling.Objects``
        (Azure/azure-functions-durable-extension ``src/WebJobs.Extensions.DurableTask/
        ErrorSerializerSettingsFactory.cs``); exceptions are ``ISerializable``, so the fields are
        those ``GetObjectData`` adds: ``Timeout`` (``FunctionTimeoutException``), ``InstanceId`` and
        ``MethodName`` (``FunctionInvocationException``), then ``System.Exception``'s. The key set
        is read from those classes; ``StackTraceString`` (a .NET stack on Azure) is left null.
        """
        name = "Microsoft.Azure.WebJobs.Host.FunctionTimeoutException"
        return json.dumps(
            {
                "$type": f"{name}, Microsoft.Azure.WebJobs.Host",
                "Timeout": format_timespan(self.timeout),
                "InstanceId": self.invocation_id,
                "MethodName": self.method_name,
                "ClassName": name,
                "Message": str(self),
                "Data": None,
                "InnerException": None,
                "HelpURL": None,
                "StackTraceString": None,
                "RemoteStackTraceString": None,
                "RemoteStackIndex": 0,
                "ExceptionMethod": None,
                "HResult": -2146233088,
                "Source": None,
                "WatsonBuckets": None,
            },
            separators=(",", ":"),
        )
