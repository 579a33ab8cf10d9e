"""The tenant's token signing keys: discovered from OpenID metadata, cached, refreshed carefully.

:class:`SigningKeys` reads ``jwks_uri`` from ``{authority}/{tenant}/v2.0/.well-known/openid-configuration``, then the
JWKS, and keeps the RSA signing keys by ``kid``. The rules:

- **Cached**: one fetch serves every validation until the keys are ``max_age`` old.
- **Refreshed on an unknown kid** (Entra rolls keys over), and when the cache is older than ``max_age``.
- **Rate-limited**: at most one fetch attempt per ``min_refresh_interval`` (default 60 s) per process, whatever the
  outcome, so a stream of tokens with made-up ``kid`` values cannot make the app hammer Entra. While no key has ever
  been fetched, attempts are spaced by the shorter ``cold_retry_interval`` instead (every request needs keys then).
- **Stale keys are kept** when a refresh fails: validation goes on with the last good key set.
- **Short timeouts**, no redirects, responses capped at 1 MiB; only RSA keys of at least 2048 bits meant for
  signatures are kept.

The fetcher is injectable (tests route it to ``tools.fakeentra`` in memory); the default uses ``urllib.request``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from functions.auth.errors import AuthUnavailableError

__all__ = ["Fetcher", "KeyFetchError", "SigningKeys", "fetch_json", "is_loopback_host"]

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1024 * 1024
MIN_RSA_BITS = 2048


class KeyFetchError(Exception):
    """The metadata or key set could not be fetched or understood (message names the step, never a key)."""


class Fetcher(Protocol):
    """Fetches a JSON document: ``fetcher(url, timeout=seconds)`` returns the parsed JSON or raises."""

    def __call__(self, url: str, *, timeout: float) -> Any:
        """Return the parsed JSON document at ``url``."""
        ...


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a host name or IP literal, without port) is ``localhost`` or a loopback address."""
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch_json(url: str, *, timeout: float) -> Any:
    """GET ``url`` and parse its JSON body; no redirects, at most 1 MiB, proxies bypassed for loopback hosts.

    Raises :class:`KeyFetchError` on any failure.
    """
    if urlsplit(url).scheme not in ("https", "http"):
        raise KeyFetchError("only http(s) URLs are fetched")
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if is_loopback_host(urlsplit(url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    headers = {"Accept": "application/json", "User-Agent": "aetherv-auth"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        with opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise KeyFetchError(f"HTTP {response.status}")
            body = response.read(MAX_DOCUMENT_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise KeyFetchError(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise KeyFetchError(f"{type(exc).__name__}") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise KeyFetchError("the document is larger than 1 MiB")
    try:
        return json.loads(body)
    except ValueError:
        raise KeyFetchError("the document is not JSON") from None


def _allowed_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname))


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The usable signing keys of a JWKS document by ``kid``; raises :class:`KeyFetchError` when there are none."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeyFetchError("the key set has no 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for entry in document["keys"]:
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        if entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig" or not isinstance(kid, str) or not kid:
            continue
        if entry.get("alg", "RS256") != "RS256":
            continue
        try:
            key = jwt.PyJWK(dict(entry), algorithm="RS256").key
        except (jwt.PyJWTError, ValueError, TypeError):
            log.warning("signing keys: skipped an unreadable key (kid %r)", kid[:64])
            continue
        if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
            keys[kid] = key
    if not keys:
        raise KeyFetchError("the key set holds no usable RSA signing key")
    return keys


class SigningKeys:
    """The cached signing keys of one tenant (rules in the module docstring); safe to share between threads."""

    def __init__(
        self,
        metadata_url: str,
        *,
        fetcher: Fetcher = fetch_json,
        timeout: float = 5.0,
        min_refresh_interval: float = 60.0,
        cold_retry_interval: float = 5.0,
        max_age: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = metadata_url
        self._fetcher = fetcher
        self._timeout = timeout
        self._min_refresh_interval = min_refresh_interval
        self._cold_retry_interval = cold_retry_interval
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._keys: dict[str, RSAPublicKey] | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        self.refresh_attempts = 0

    @property
    def kids(self) -> tuple[str, ...]:
        """The key ids currently cached."""
        return tuple(self._keys or ())

    def get(self, kid: str) -> RSAPublicKey | None:
        """The key with ``kid``, refreshing the cache first when ``kid`` is unknown or the keys are old.

        Returns ``None`` when the key is unknown even after any refresh the rate limit allows; raises
        :class:`AuthUnavailableError` when no key set has ever been fetched.
        """
        keys = self._keys
        if keys is not None and kid in keys and self._clock() - self._fetched_at < self._max_age:
            return keys[kid]
        self._refresh_if_allowed()
        keys = self._keys
        if keys is None:
            raise AuthUnavailableError()
        return keys.get(kid)

    def _refresh_if_allowed(self) -> None:
        with self._lock:
            now = self._clock()
            interval = self._min_refresh_interval if self._keys is not None else self._cold_retry_interval
            if self._last_attempt is not None and now - self._last_attempt < interval:
                return
            self._last_attempt = now
            self.refresh_attempts += 1
            try:
                keys = self._fetch()
            except KeyFetchError as exc:
                self._jwks_uri = None  # re-read the metadata next time
                if self._keys is not None:
                    log.warning("signing keys: refresh failed (%s); keeping the %d cached key(s)", exc, len(self._keys))
                else:
                    log.error("signing keys: fetch failed (%s); no keys cached", exc)
                return
            added = sorted(set(keys) - set(self._keys or {}))
            self._keys = keys
            self._fetched_at = now
            log.info("signing keys: fetched %d key(s), %d new", len(keys), len(added))

    def _fetch(self) -> dict[str, RSAPublicKey]:
        if self._jwks_uri is None:
            try:
                metadata = self._fetcher(self.metadata_url, timeout=self._timeout)
            except KeyFetchError as exc:
                raise KeyFetchError(f"metadata: {exc}") from None
            except Exception as exc:  # an injected fetcher may raise anything
                raise KeyFetchError(f"metadata: {type(exc).__name__}") from None
            uri = metadata.get("jwks_uri") if isinstance(metadata, Mapping) else None
            if not isinstance(uri, str) or not _allowed_url(uri):
                raise KeyFetchError("metadata: no usable jwks_uri")
            self._jwks_uri = uri
        try:
            document = self._fetcher(self._jwks_uri, timeout=self._timeout)
        except KeyFetchError as exc:
            raise KeyFetchError(f"key set: {exc}") from None
        except Exception as exc:
            raise KeyFetchError(f"key set: {type(exc).__name__}") from None
        return parse_jwks(document)
