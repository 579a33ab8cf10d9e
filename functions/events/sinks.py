"""Where events go: webhook receivers (Standard Webhooks signatures) and an Azure Event Grid custom topic.

A sink delivers one event or raises :class:`DeliveryError` with a safe reason (a status code or an exception's class
name: never the receiver's URL, which may carry a token, nor its response body). Each has a stable ``id`` (what the
outbox records as owed; a hash for webhooks) and a ``label`` that is safe to show.

Webhooks: the structured-mode CloudEvent (``application/cloudevents+json``) signed with the ``standardwebhooks``
library: ``webhook-id`` is the event id on every attempt (receivers deduplicate by it), ``webhook-timestamp`` the
attempt's time, ``webhook-signature`` ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``. Any 2xx is delivered;
redirects are not followed (the Standard Webhooks guidance). Event Grid: the same CloudEvent as the Event Grid SDK's
type, published with the app's managed identity (role ``EventGrid Data Sender`` on the topic).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.messaging import CloudEvent as AzureCloudEvent
from standardwebhooks import Webhook

from functions.events.catalog import OutgoingEvent
from functions.settings import EventSettings

__all__ = ["DeliveryError", "EventGridSink", "Sink", "WebhookSink", "configured_sinks"]

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
_USER_AGENT = "Aether-V-Events/1"


class DeliveryError(Exception):
    """A sink did not take the event; the message is safe to store and show."""


class Sink(Protocol):
    """One destination of events."""

    id: str
    label: str

    def deliver(self, event: OutgoingEvent) -> None:
        """Deliver ``event`` or raise :class:`DeliveryError`."""
        ...

    def close(self) -> None:
        """Let go of the sink's connections."""
        ...


class WebhookSink:
    """A webhook receiver, signed per Standard Webhooks."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._url = url
        self._signer = Webhook(secret)
        self._session = session or requests.Session()
        self._clock = clock
        self.id = "webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.label = f"webhook {urlsplit(url).hostname}"

    def headers(self, event: OutgoingEvent, at: datetime) -> dict[str, str]:
        """The request headers of one attempt at ``at``."""
        return {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "user-agent": _USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": self._signer.sign(event.id, at, event.body),
        }

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self._session.close()

    def deliver(self, event: OutgoingEvent) -> None:
        """POST the signed event; any 2xx delivers it."""
        try:
            response = self._session.post(
                self._url,
                data=event.body,
                headers=self.headers(event, self._clock()),
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise DeliveryError(type(exc).__name__) from None
        with response:
            if not 200 <= response.status_code < 300:
                raise DeliveryError(f"HTTP {response.status_code}")


class EventGridSink:
    """An Event Grid custom topic (CloudEvents 1.0 input schema)."""

    def __init__(self, endpoint: str, credential: Any) -> None:
        from azure.eventgrid import EventGridPublisherClient

        self._client = EventGridPublisherClient(endpoint, credential)
        self.id = "eventgrid:" + hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        self.label = f"event grid {urlsplit(endpoint).hostname}"

    def close(self) -> None:
        """Close the publisher's connections."""
        self._client.close()

    def deliver(self, event: OutgoingEvent) -> None:
        """Publish the event to the topic."""
        try:
            self._client.send([AzureCloudEvent.from_dict(json.loads(event.body))])
        except HttpResponseError as exc:
            raise DeliveryError(f"HTTP {exc.status_code}") from None
        except AzureError as exc:
            raise DeliveryError(type(exc).__name__) from None


def configured_sinks(settings: EventSettings, credential: Callable[[], TokenCredential]) -> list[Sink]:
    """The sinks ``settings`` name (the credential is built only when an Event Grid topic is configured)."""
    sinks: list[Sink] = [WebhookSink(url, settings.webhook_secret.reveal()) for url in settings.webhook_urls]
    if settings.eventgrid_endpoint:
        sinks.append(EventGridSink(settings.eventgrid_endpoint, credential()))
    return sinks
