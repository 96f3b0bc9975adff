"""Throwaway certificates for the TLS tests: a test CA, a server certificate it signs, and impostors.

The app verifies certificates against the system trust store (``channels.mail.security.tls_context``) and has
no "accept any certificate" switch, so the tests trust their CA the way an administrator would: OpenSSL's
``SSL_CERT_FILE`` variable, which ``ssl.create_default_context()`` reads when a context is made.

Made with ``cryptography`` (already installed: keyring's Secret Service backend depends on it).
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["TlsFiles", "make_test_pki"]


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the test CA's certificate: what a client must trust
    cert: Path  # server certificate (chain: just the leaf, signed by ``ca``)
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _ca(folder: Path, label: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"inbox_app test CA ({label})"))
        .issuer_name(_name(f"inbox_app test CA ({label})"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / f"ca-{label}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _leaf(
    folder: Path,
    label: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_path: Path,
    names: list[x509.GeneralName],
) -> TlsFiles:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"inbox_app test server ({label})"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{label}.pem", folder / f"{label}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return TlsFiles(ca=ca_path, cert=cert_path, key=key_path)


@dataclass(frozen=True)
class TestPki:
    good: TlsFiles  # for 127.0.0.1 and localhost, signed by the CA the tests trust
    untrusted: TlsFiles  # for 127.0.0.1 too, signed by a CA nobody trusts
    wrong_host: TlsFiles  # signed by the trusted CA, for mail.example.com only

    __test__ = False  # not a pytest test class despite the name


def make_test_pki(folder: Path | None = None) -> TestPki:
    root = folder or Path(tempfile.mkdtemp(prefix="inbox-pki-"))
    root.mkdir(parents=True, exist_ok=True)
    trusted = _ca(root, "trusted")
    stranger = _ca(root, "stranger")
    loopback: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.DNSName("localhost"),
    ]
    return TestPki(
        good=_leaf(root, "good", *trusted, loopback),
        untrusted=_leaf(root, "untrusted", *stranger, loopback),
        wrong_host=_leaf(root, "wrong-host", *trusted, [x509.DNSName("mail.example.com")]),
    )
