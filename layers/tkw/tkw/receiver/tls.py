"""Test certificates to rehearse TLS-MA before requesting NHS ones (``tkw certs``).

BaRS calls receivers over mutual TLS: the receiver presents a server certificate under the NHS
Root CA and accepts only clients with certificates from that chain. This writes a stand-in: a test
root CA, a client certificate for the emulator (what TKW presents) and a server certificate for the
receiver (named ``--server-name``), so both sides of the handshake can be exercised locally.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
CLIENT_CERT = "client.pem"
CLIENT_KEY = "client-key.pem"


@dataclass(frozen=True)
class PkiFiles:
    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def ca(self) -> Path:
        return self.path(CA_CERT)

    @property
    def server_cert(self) -> Path:
        return self.path(SERVER_CERT)

    @property
    def server_key(self) -> Path:
        return self.path(SERVER_KEY)

    @property
    def client_cert(self) -> Path:
        return self.path(CLIENT_CERT)

    @property
    def client_key(self) -> Path:
        return self.path(CLIENT_KEY)


def generate_test_pki(folder: Path, server_name: str = "localhost", days: int = 30) -> PkiFiles:
    """Write a root CA, a server certificate for ``server_name`` and a client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)

    def key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def name(common: str, unit: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TKW emulator (test only)"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    ca_key = key()
    ca_name = name("TKW emulator test root CA", "Test root CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        common: str, unit: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> tuple[bytes, bytes]:
        leaf_key = key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(common, unit))
            .issuer_name(ca_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=True,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    server_names: list[x509.GeneralName] = []
    try:
        server_names.append(x509.IPAddress(ipaddress.ip_address(server_name)))
    except ValueError:
        server_names.append(x509.DNSName(server_name))
    if server_name == "localhost":  # so https://127.0.0.1:port works as well as https://localhost:port
        server_names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    server = leaf(server_name, "Receiver (server)", ExtendedKeyUsageOID.SERVER_AUTH, server_names)
    client = leaf("tkw-emulator", "Emulator (client)", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("tkw-emulator")])

    folder.mkdir(parents=True, exist_ok=True)
    ca_key_pem = ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files = {
        CA_CERT: (ca_cert.public_bytes(serialization.Encoding.PEM), 0o644),
        CA_KEY: (ca_key_pem, 0o600),
        SERVER_CERT: (server[0], 0o644),
        SERVER_KEY: (server[1], 0o600),
        CLIENT_CERT: (client[0], 0o644),
        CLIENT_KEY: (client[1], 0o600),
    }
    for file_name, (data, mode) in files.items():
        path = folder / file_name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.chmod(path, mode)
    return PkiFiles(folder)
