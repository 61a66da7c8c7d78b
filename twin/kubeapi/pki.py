"""The twin's Kubernetes PKI: a CA, the API server certificate and the admin client certificate.

Shaped like MicroK8s' (docs/facts.md#kubeconfig): the server certificate carries the
SANs of MicroK8s' csr.conf.template (the kubernetes service names, 127.0.0.1 and 10.152.183.1),
the client certificate is CN=admin, O=system:masters, and `Pki.kubeconfig` renders what
`microk8s config` prints (cluster `microk8s-cluster`, context `microk8s`, user `admin`, all
credentials inline as base64 data). Keys are ECDSA P-256 (fast to generate; nothing observable
depends on the key type) and written with mode 0600.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_DNS_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster",
    "kubernetes.default.svc.cluster.local",
)
SERVER_IPS = ("127.0.0.1", "10.152.183.1")
_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Pki:
    """Paths of the PEM files that make up the twin's PKI."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def kubeconfig(self, server: str) -> str:
        """A MicroK8s-style kubeconfig for `server` (e.g. https://127.0.0.1:16443)."""

        def b64(path: Path) -> str:
            return base64.b64encode(path.read_bytes()).decode()

        config = {
            "apiVersion": "v1",
            "clusters": [
                {
                    "cluster": {"certificate-authority-data": b64(self.ca_cert), "server": server},
                    "name": "microk8s-cluster",
                }
            ],
            "contexts": [
                {"context": {"cluster": "microk8s-cluster", "user": "admin"}, "name": "microk8s"}
            ],
            "current-context": "microk8s",
            "kind": "Config",
            "preferences": {},
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate-data": b64(self.client_cert),
                        "client-key-data": b64(self.client_key),
                    },
                }
            ],
        }
        return yaml.safe_dump(config, default_flow_style=False)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey):
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # an hour of slack for clocks that disagree a little
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + _VALIDITY)
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _write_pair(directory: Path, stem: str, cert: x509.Certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600)
    return cert_path, key_path


def _leaf(
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca_name, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory: Path) -> Pki:
    """Generate a fresh CA, server and admin client certificate as PEM files in directory."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("akri-twin-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
        .sign(ca_key, hashes.SHA256())
    )
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SERVER_IPS]
    server = _leaf(ca_name, ca_key, _name("127.0.0.1"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
    client = _leaf(
        ca_name, ca_key, _name("admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    ca_paths = _write_pair(directory, "ca", ca_cert, ca_key)
    server_paths = _write_pair(directory, "server", *server)
    client_paths = _write_pair(directory, "client", *client)
    return Pki(directory, *ca_paths, *server_paths, *client_paths)
