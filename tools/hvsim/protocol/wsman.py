"""WS-Management SOAP envelopes of the Windows Remote Shell: parsing requests and rendering replies and faults.

Covers exactly what pywinrm sends and reads ([MS-WSMV] §3.1.4): ``Create``/``Delete`` of a shell, ``Command``,
``Send``, ``Receive`` and ``Signal``, and ``s:Fault`` replies with a ``WSManFault`` detail.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from tools.hvsim.protocol.errors import WSManFault

__all__ = [
    "ACTION_COMMAND",
    "ACTION_CREATE",
    "ACTION_DELETE",
    "ACTION_RECEIVE",
    "ACTION_SEND",
    "ACTION_SIGNAL",
    "RESOURCE_CMD",
    "SIGNAL_TERMINATE",
    "WSManRequest",
    "parse_duration",
    "parse_request",
    "render_fault",
    "render_reply",
    "stream_element",
]

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTION_COMMAND = _SHELL + "Command"
ACTION_SEND = _SHELL + "Send"
ACTION_RECEIVE = _SHELL + "Receive"
ACTION_SIGNAL = _SHELL + "Signal"
SIGNAL_TERMINATE = _SHELL + "signal/terminate"
STATE_DONE = _SHELL + "CommandState/Done"
STATE_RUNNING = _SHELL + "CommandState/Running"
_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
_FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


@dataclass
class WSManRequest:
    """The parts of a WS-Management request the shell service needs."""

    action: str
    resource_uri: str
    message_id: str
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    operation_timeout: float | None = None
    max_envelope_size: int | None = None
    body: ET.Element | None = None

    @property
    def shell_id(self) -> str | None:
        """The ShellId selector, if any."""
        return self.selectors.get("ShellId")

    def find(self, path: str) -> ET.Element | None:
        """An element of the body by ElementTree path with the ``rsp``/``w`` prefixes."""
        return None if self.body is None else self.body.find(path, NS)


def parse_duration(text: str) -> float:
    """Seconds of an xs:duration such as ``PT20S``, ``PT20.000S`` or ``P0DT0H1M0S``."""
    match = _DURATION.fullmatch(text.strip())
    if not match or text.strip() in ("P", "PT"):
        raise WSManFault.invalid_request(f"invalid duration {text!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes) -> WSManRequest:
    """Parse a SOAP envelope (raises :class:`WSManFault` when it is not a usable WS-Management request)."""
    try:
        root = ET.fromstring(data)  # noqa: S314 - loopback test peer; expat refuses entity expansion attacks
    except ET.ParseError as exc:
        raise WSManFault.invalid_request(f"not well-formed XML ({exc})") from None
    header = root.find("s:Header", NS)
    if root.tag != f"{{{NS['s']}}}Envelope" or header is None:
        raise WSManFault.invalid_request("not a SOAP 1.2 envelope")

    def text(path: str) -> str:
        node = header.find(path, NS)
        return (node.text or "").strip() if node is not None else ""

    request = WSManRequest(
        action=text("a:Action"),
        resource_uri=text("w:ResourceURI"),
        message_id=text("a:MessageID"),
        body=root.find("s:Body", NS),
    )
    if not request.action or not request.message_id:
        raise WSManFault.invalid_request("missing a:Action or a:MessageID")
    for selector in header.findall("w:SelectorSet/w:Selector", NS):
        request.selectors[selector.get("Name", "")] = (selector.text or "").strip()
    for option in header.findall("w:OptionSet/w:Option", NS):
        request.options[option.get("Name", "")] = (option.text or "").strip()
    if timeout := text("w:OperationTimeout"):
        request.operation_timeout = parse_duration(timeout)
    if size := text("w:MaxEnvelopeSize"):
        try:
            request.max_envelope_size = int(size)
        except ValueError:
            raise WSManFault.invalid_request(f"invalid MaxEnvelopeSize {size!r}") from None
    return request


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<s:Envelope xml:lang="en-US" '
        f'xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:x="{NS["x"]}" xmlns:w="{NS["w"]}" '
        f'xmlns:rsp="{NS["rsp"]}" xmlns:p="{NS["p"]}">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{_ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).encode()


def render_reply(request: WSManRequest, body: str) -> bytes:
    """The reply to ``request``: action ``<request action>Response``, RelatesTo its MessageID, and ``body``."""
    return _envelope(request.action + "Response", request.message_id, body)


def render_fault(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    """A SOAP fault envelope as WinRM sends it (pywinrm reads code, subcode, reason and the WSManFault code)."""
    code = "s:Sender" if fault.sender else "s:Receiver"
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>"
        "</s:Detail>"
        "</s:Fault>"
    )
    return _envelope(_FAULT_ACTION, relates_to or "uuid:00000000-0000-0000-0000-000000000000", body)


def stream_element(name: str, command_id: str, data: bytes, *, end: bool = False) -> str:
    """One ``rsp:Stream`` element of a ReceiveResponse (base64 content)."""
    end_attr = ' End="true"' if end else ""
    content = base64.b64encode(data).decode("ascii")
    return f'<rsp:Stream Name="{name}" CommandId={quoteattr(command_id)}{end_attr}>{content}</rsp:Stream>'


def command_state(command_id: str, *, done: bool, exit_code: int | None) -> str:
    """The ``rsp:CommandState`` element of a ReceiveResponse."""
    if not done:
        return f'<rsp:CommandState CommandId={quoteattr(command_id)} State="{STATE_RUNNING}"/>'
    return (
        f'<rsp:CommandState CommandId={quoteattr(command_id)} State="{STATE_DONE}">'
        f"<rsp:ExitCode>{int(exit_code or 0)}</rsp:ExitCode></rsp:CommandState>"
    )
