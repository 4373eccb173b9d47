"""TLS for the tls stage and the bench: certificate authorities made for a run, HTTPS to a
published port under the site's own name (SNI), and what certificate a server presents."""

import datetime
import http.client
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# What Python 3.13's strict verification (and browsers) expect of a CA and a server.
_CA_USAGE = x509.KeyUsage(
    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
    key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
    decipher_only=False,
)  # fmt: skip


def _pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Authority:
    """A CA made for this run: whatever it signed can only come from this run."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def make(cls, name):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )  # fmt: skip
        return cls(key, certificate)

    @property
    def pem(self):
        return _pem(self.certificate)

    def issue(self, names, valid_for=datetime.timedelta(days=1), expired=False):
        """(certificate PEM, key PEM) for the DNS names; `expired`: ended an hour ago."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        end = now - datetime.timedelta(hours=1) if expired else now + valid_for
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, end) - datetime.timedelta(days=1)).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        return _pem(certificate), _key_pem(key)

    def write(self, directory, names, **validity):
        """The certificate (with this CA after it, as a chain) and key, as files."""
        certificate, key = self.issue(names, **validity)
        paths = Path(directory) / "certificate.pem", Path(directory) / "key.pem"
        paths[0].write_bytes(certificate + self.pem)
        paths[1].write_bytes(key)
        return paths


def trusting(ca_file):
    """A client context that trusts only `ca_file`'s roots, and checks names and dates."""
    return ssl.create_default_context(cafile=str(ca_file))


def unverified():
    """A client context that takes any certificate: for looking at what a server presents
    (a temporary or self-signed one) before anything can verify it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def handshake(port, server_name, context, session=None):
    """A TLS handshake with 127.0.0.1:port, asking for `server_name` (SNI): the certificate
    the server presented (verified by `context`) and the TLS socket, still open."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        tls = context.wrap_socket(raw, server_hostname=server_name, session=session)
    except BaseException:
        raw.close()
        raise
    return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)), tls


def served_certificate(port, server_name, context):
    certificate, tls = handshake(port, server_name, context)
    tls.close()
    return certificate


class _SiteConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port under the site's name: the name is the SNI and the Host,
    checked against the certificate, while the connection goes to the published port."""

    def __init__(self, port, server_name, context):
        super().__init__(server_name, port, context=context, timeout=30)
        self._port = port

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self._port), self.timeout)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def https_request(port, server_name, context, path="/", method="GET", headers=None, body=None,
                  every_header=False):  # fmt: skip
    """One HTTPS exchange: (status, headers, body). Headers as a dict, or with
    `every_header` as the list of (name, value) pairs, where a header sent twice shows."""
    connection = _SiteConnection(port, server_name, context)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        received = response.getheaders()
        return response.status, received if every_header else dict(received), response.read()
    finally:
        connection.close()
