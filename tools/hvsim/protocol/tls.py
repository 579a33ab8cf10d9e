"""A throw-away certificate authority for the simulated hosts' HTTPS listeners.

:class:`CertificateAuthority` creates an EC P-256 CA at construction and writes its certificate to ``ca.pem``
(``ca_pem_path``: give it to pywinrm as ``ca_trust_path`` or to the app as ``AETHERV_WINRM_CA_BUNDLE``).
:meth:`CertificateAuthority.issue` signs a server certificate per host with the host name and the loopback
addresses in its SANs. EC keys keep start-up fast (50 hosts in well under a second of key generation).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import shutil
import ssl
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority", "HostCertificate"]

_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class HostCertificate:
    """A host's server certificate: PEM files on disk plus the DER bytes (for NTLM channel bindings)."""

    host_name: str
    cert_path: Path
    key_path: Path
    der: bytes

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting this certificate (TLS 1.2+)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert_path), str(self.key_path))
        return context

    def channel_binding_hash(self) -> bytes:
        """RFC 5929 ``tls-server-end-point`` hash of the certificate (SHA-256, the certificate's signature hash)."""
        return hashlib.sha256(self.der).digest()


class CertificateAuthority:
    """A CA generated at construction; issues host certificates; files live in ``directory`` (temporary if None)."""

    def __init__(self, directory: str | Path | None = None, *, common_name: str = "Aether-V hvsim lab CA") -> None:
        if directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="hvsim-ca-"))
            self._finalizer: weakref.finalize | None = weakref.finalize(  # type: ignore[type-arg]
                self, shutil.rmtree, str(self.directory), True
            )
        else:
            self.directory = Path(directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            self._finalizer = None
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self._name = name
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self.ca_pem_path = self.directory / "ca.pem"
        self.ca_pem_path.write_bytes(self.ca_pem)

    def issue(self, host_name: str, *, ip_addresses: tuple[str, ...] = ("127.0.0.1",)) -> HostCertificate:
        """A server certificate for ``host_name`` (SANs: the name, ``localhost`` and ``ip_addresses``)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        names: list[x509.GeneralName] = []
        for dns in dict.fromkeys((host_name, "localhost")):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(dns)))
            except ValueError:
                names.append(x509.DNSName(dns))
        names.extend(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses if ip != host_name)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in host_name)
        with self._lock:
            index = len(list(self.directory.glob(f"{safe}*.crt")))
            stem = f"{safe}-{index}" if index else safe
            cert_path = self.directory / f"{stem}.crt"
            key_path = self.directory / f"{stem}.key"
            cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
            key_path.touch(mode=0o600)
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return HostCertificate(host_name, cert_path, key_path, certificate.public_bytes(serialization.Encoding.DER))
