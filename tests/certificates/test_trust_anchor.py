"""A configured PKCS#12 (an issuing certificate under the city's own CA): its chain is
published, PDFs are signed with it, and a validator trusting only the CA accepts them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certificates.policy import Kind
from certificates.signing import fingerprint
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.certificates.test_tampering import _pyhanko
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process
from tests.surveys.conftest import make_city


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=not sign_certs,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _city_ca_bundle(folder: Path) -> tuple[Path, x509.Certificate, x509.Certificate]:
    """A CA certificate and an issuing certificate it signed, the latter in a PKCS#12."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("驻马店市 根证书"))
        .issuer_name(_name("驻马店市 根证书"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("驻马店市市场监督管理局 放心消费证书签章"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    p12 = folder / "issuer.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"issuer", key, leaf, [ca], serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    return p12, ca, leaf


async def test_a_configured_pkcs12_publishes_its_chain_and_validates_under_its_ca(
    app_settings: Settings, tmp_path: Path
) -> None:
    p12, ca, leaf = _city_ca_bundle(tmp_path)
    settings = replace(
        app_settings,
        data_dir=tmp_path / "data",
        signing_p12=p12,
        signing_p12_password="s3cret",
    )
    await empty_database(settings)
    async with serve_in_process(make_app(settings), BASE_URL) as client:
        issuer = (await client.get("/trust/issuer.pem")).content
        assert x509.load_pem_x509_certificate(issuer) == leaf
        der = (await client.get("/trust/issuer.der")).content
        assert x509.load_der_x509_certificate(der) == leaf
        chain = x509.load_pem_x509_certificates((await client.get("/trust/chain.pem")).content)
        assert chain == [leaf, ca]
        page = await client.get("/methodology", headers={"accept": "text/html"})
        assert fingerprint(leaf) in page.text

        city = await make_city()
        serial = "ZMD-2026-M-000001-O"
        await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", serial, datetime.now(UTC))
        pdf = (await client.get(f"/api/v1/certificates/{serial}/pdf")).content
        checked = (
            await client.post(
                "/api/v1/certificates/verify", files={"file": ("c.pdf", pdf, "application/pdf")}
            )
        ).json()
        assert checked["verdict"] == "genuine" and checked["status"] == "active"

    # An outside validator that trusts only the city's CA accepts the file.
    (tmp_path / "c.pdf").write_bytes(pdf)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    assert _pyhanko(tmp_path / "c.pdf", tmp_path / "ca.pem").endswith(":VALID")
