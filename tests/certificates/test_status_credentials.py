"""Status lists and certificate credentials, checked the way an outside verifier would: keys
resolved through the DID document, signatures verified with joserfc (an implementation
independent of ours), the bitstring decoded with nothing but the standard library."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwk, jws
from joserfc.errors import BadSignatureError
from tortoise.migrations.api import migrate as tortoise_migrate

from certificates import jose, status_lists
from certificates.credentials import did_of
from certificates.models import Certificate
from certificates.policy import Kind
from certificates.serials import make_serial
from service.kernel import db as dbm
from service.kernel.conditional import PUBLIC_CACHE_CONTROL
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.helpers import make_token
from tests.service.test_migrations import _drop, _fresh_settings

LISTS = "/api/v1/certificates/status"


# --- the bitstring, by hand ------------------------------------------------------------------


def test_index_zero_is_the_first_bytes_most_significant_bit() -> None:
    assert status_lists.bitstring({0, 9}, 16) == bytes([0x80, 0x40])
    assert status_lists.bitstring({7, 8}, 16) == bytes([0x01, 0x80])
    assert status_lists.bitstring({15}, 16) == bytes([0x00, 0x01])
    assert status_lists.bitstring([], 8) == b"\x00"
    with pytest.raises(ValueError, match="outside"):
        status_lists.bitstring({16}, 16)
    with pytest.raises(ValueError, match="whole bytes"):
        status_lists.bitstring({0}, 12)


def test_the_encoded_list_is_multibase_base64url_of_gzip_and_repeatable() -> None:
    bits = status_lists.bitstring({0, 9}, 16)
    encoded = status_lists.encode_list(bits)
    assert encoded.startswith("u") and "=" not in encoded
    assert _decode(encoded) == bits
    assert status_lists.encode_list(bits) == encoded  # no timestamp in the GZIP header


def test_the_list_holds_131072_bits_and_doubles_past_half_full() -> None:
    assert status_lists.list_size(0) == 131_072
    assert status_lists.list_size(65_536) == 131_072
    assert status_lists.list_size(65_537) == 262_144
    assert status_lists.list_size(10, highest=131_071) == 131_072
    assert status_lists.list_size(10, highest=131_072) == 262_144  # never drops an index


def test_did_web_of_the_base_url() -> None:
    assert did_of("http://127.0.0.1:8000") == "did:web:127.0.0.1%3A8000"
    assert did_of("https://fangxin.zmd.gov.cn") == "did:web:fangxin.zmd.gov.cn"
    assert did_of("https://city.example/market/fangxin/") == "did:web:city.example:market:fangxin"


# --- JWS, against joserfc --------------------------------------------------------------------


def _jwk(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> dict[str, str | list[str]]:
    return {**jose.public_jwk(key)}


def test_es256_is_deterministic_and_verifies() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = jose.sign_vc({"a": "放心"}, key, "did:web:x#k")
    assert jose.sign_vc({"a": "放心"}, key, "did:web:x#k") == token
    public = jwk.import_key(_jwk(key))
    checked = jws.deserialize_compact(token, public, algorithms=["ES256"])
    assert json.loads(checked.payload) == {"a": "放心"}
    assert checked.headers() == {"alg": "ES256", "kid": "did:web:x#k", "typ": "vc+jwt", "cty": "vc"}
    assert jose.thumbprint(jose.public_jwk(key)) == public.thumbprint()


def test_rs256_for_an_rsa_key_and_other_keys_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jose.sign_vc({"a": 1}, key, "k")
    public = jwk.import_key(_jwk(key))
    jws.deserialize_compact(token, public, algorithms=["RS256"])
    assert jose.thumbprint(jose.public_jwk(key)) == public.thumbprint()
    with pytest.raises(jose.UnsupportedKey, match="P-256"):
        jose.sign_vc({}, ec.generate_private_key(ec.SECP384R1()), "k")
    with pytest.raises(jose.UnsupportedKey, match="Ed25519PrivateKey"):
        jose.sign_vc({}, ed25519.Ed25519PrivateKey.generate(), "k")


# --- over HTTP -------------------------------------------------------------------------------


def _decode(encoded: str) -> bytes:
    assert encoded[0] == "u"
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def _bit(bits: bytes, index: int) -> int:
    return (bits[index // 8] >> (7 - index % 8)) & 1


def _segment(token: str, i: int) -> dict[str, Any]:
    part = token.split(".")[i]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return loaded


async def _verified(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The payload, once the signature checks against the key the header's kid names in our
    DID document (and in our JWK Set)."""
    header = _segment(token, 0)
    assert header["typ"] == "vc+jwt" and header["cty"] == "vc" and header["alg"] == "ES256"
    did, _, fragment = header["kid"].partition("#")
    document = (await client.get("/.well-known/did.json")).json()
    assert document["id"] == did and document["assertionMethod"] == [header["kid"]]
    (method,) = [m for m in document["verificationMethod"] if m["id"] == header["kid"]]
    assert method["type"] == "JsonWebKey" and method["controller"] == did
    key = jwk.import_key(method["publicKeyJwk"])
    assert key.thumbprint() == fragment
    (listed,) = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert listed["kid"] == header["kid"] and listed["use"] == "sig" and listed["alg"] == "ES256"
    assert jwk.import_key(listed).thumbprint() == fragment
    checked = jws.deserialize_compact(token, key, algorithms=["ES256"])
    payload: dict[str, Any] = json.loads(checked.payload)
    return payload


def _tampered(token: str) -> str:
    header, _, signature = token.split(".")
    claims = _segment(token, 1)
    claims["validUntil"] = "2099-01-01T00:00:00Z"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


async def _three(now: datetime) -> list[Certificate]:
    return [
        await _certificate(Kind.MERCHANT, f"9141170000000000{i}X", f"商户{i}", serial, now)
        for i, serial in enumerate(make_serial("ZMD", 2026, Kind.MERCHANT, n) for n in (1, 2, 3))
    ]


async def _credential(
    client: httpx.AsyncClient, serial: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get(f"/api/v1/certificates/{serial}/credential", headers=headers or {})


async def test_lists_and_credentials_verify_and_show_each_status(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    base = app_settings.base_url
    active, suspended, revoked = await _three(datetime.now(UTC) - timedelta(days=3))
    before = {c.serial: c.status_index for c in (active, suspended, revoked)}
    assert len(set(before.values())) == 3
    assert all(0 <= i < status_lists.MIN_BITS for i in before.values())

    tokens = {}
    for cert in (active, suspended, revoked):
        r = await _credential(client, cert.serial)
        assert r.status_code == 200 and r.headers["content-type"] == "application/vc+jwt"
        assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL
        tokens[cert.serial] = r.text
        assert (await _credential(client, cert.serial)).content == r.content  # same bytes

    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for cert, action, reason in (
        (suspended, "suspend", "inspection_pending"),
        (revoked, "revoke", "false_advertising"),
    ):
        r = await client.post(
            f"/api/v1/certificates/{cert.serial}/{action}",
            json={"reason": reason, "note": "检查"},
            headers=official,
        )
        assert r.status_code == 200, r.text

    # The credential names the status lists, and its index, unchanged by the status changes.
    for cert in (active, suspended, revoked):
        credential = await _verified(client, tokens[cert.serial])
        assert credential["type"] == ["VerifiableCredential", "FangxinCertificate"]
        assert credential["id"] == f"{base}/verify/{cert.serial}"
        assert credential["credentialSubject"]["code"] == cert.subject_code
        entries = {e["statusPurpose"]: e for e in credential["credentialStatus"]}
        assert set(entries) == {"revocation", "suspension"}
        for purpose, entry in entries.items():
            assert entry["type"] == "BitstringStatusListEntry"
            assert entry["statusListCredential"] == f"{base}{LISTS}/{purpose}"
            assert entry["statusListIndex"] == str(before[cert.serial])
        fresh = await Certificate.get(id=cert.id)
        assert fresh.status_index == before[cert.serial]
    with pytest.raises(BadSignatureError):
        await _verified(client, _tampered(tokens[active.serial]))

    expected = {
        "revocation": {active.serial: 0, suspended.serial: 0, revoked.serial: 1},
        "suspension": {active.serial: 0, suspended.serial: 1, revoked.serial: 0},
    }
    for purpose, bits_of in expected.items():
        r = await client.get(f"{LISTS}/{purpose}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/vc+jwt"
        assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL
        credential = await _verified(client, r.text)
        url = f"{base}{LISTS}/{purpose}"
        assert credential["id"] == url and credential["issuer"] == did_of(base)
        assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        newest = max(c.status_changed_at for c in await Certificate.all())
        assert credential["validFrom"] == newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        subject = credential["credentialSubject"]
        assert subject["id"] == f"{url}#list" and subject["type"] == "BitstringStatusList"
        assert subject["statusPurpose"] == purpose
        bits = _decode(subject["encodedList"])
        assert len(bits) * 8 >= 131_072
        assert {s: _bit(bits, before[s]) for s in bits_of} == bits_of
        assert sum(bin(b).count("1") for b in bits) == 1  # nothing else is set
        with pytest.raises(BadSignatureError):
            await _verified(client, _tampered(r.text))

        again = await client.get(f"{LISTS}/{purpose}")
        assert again.content == r.content and again.headers["etag"] == r.headers["etag"]
        cached = await client.get(
            f"{LISTS}/{purpose}", headers={"if-none-match": r.headers["etag"]}
        )
        assert cached.status_code == 304 and cached.content == b""

    # A revoked (or suspended) certificate's credential: not for the public, but an official's.
    assert (await _credential(client, revoked.serial)).status_code == 403
    assert (await _credential(client, suspended.serial)).status_code == 403
    r = await _credential(client, revoked.serial, official)
    assert r.status_code == 200 and r.text == tokens[revoked.serial]
    assert r.headers["cache-control"] == "private, no-store"
    assert (await _credential(client, "ZMD-2026-M-999999-X")).status_code in (400, 404)
    assert (await client.get(f"{LISTS}/expiry")).status_code == 404


async def test_validity_and_expiry_are_in_the_credential_not_the_lists(
    client: httpx.AsyncClient,
) -> None:
    lapsed = await _certificate(
        Kind.MERCHANT,
        "914117000000000099",
        "旧店",
        make_serial("ZMD", 2023, Kind.MERCHANT, 1),
        datetime.now(UTC) - timedelta(days=800),
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    assert (await _credential(client, lapsed.serial)).status_code == 403
    credential = await _verified(client, (await _credential(client, lapsed.serial, official)).text)
    assert credential["validUntil"] == lapsed.valid_until.astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    for purpose in ("revocation", "suspension"):
        listed = await _verified(client, (await client.get(f"{LISTS}/{purpose}")).text)
        bits = _decode(listed["credentialSubject"]["encodedList"])
        assert _bit(bits, lapsed.status_index) == 0


async def test_issuing_draws_distinct_indexes_within_the_list(client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    certs = [
        await _certificate(
            Kind.STREET, f"4117{n:06d}", f"街{n}", make_serial("ZMD", 2026, Kind.STREET, n), now
        )
        for n in range(1, 41)
    ]
    indexes = [c.status_index for c in certs]
    assert len(set(indexes)) == len(indexes)
    assert all(0 <= i < status_lists.MIN_BITS for i in indexes)
    assert max(indexes) > 1000  # drawn across the list, not counted up from 0
    extent = await status_lists.extent()
    assert extent.count == 40 and extent.highest == max(indexes)


async def test_the_migration_gives_existing_certificates_distinct_indexes(
    migrated: Settings, tmp_path: Path
) -> None:
    settings, name = await _fresh_settings(str(tmp_path))
    columns = (
        "serial, kind, subject_code, subject_name, policy_version, basis, issued_by,"
        " issued_at, valid_from, valid_until, status, status_changed_at, is_demo"
    )
    try:
        await tortoise_migrate(
            config=dbm.tortoise_config(settings), target="models.0010_surge_flag"
        )
        await dbm.close_db()
        await dbm.init_db(settings)
        conn = dbm.connection()
        postgres = conn.capabilities.dialect == "postgres"
        marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, 14))
        when = datetime(2026, 1, 5, tzinfo=UTC) if postgres else "2026-01-05T00:00:00+00:00"
        for n in range(1, 6):
            await conn.execute_query(
                f"INSERT INTO certificate ({columns}) VALUES ({marks})",
                [
                    f"S{n}",
                    "merchant",
                    f"C{n}",
                    "n",
                    "v",
                    "{}",
                    "t",
                    *[when] * 3,
                    "active",
                    when,
                    False,
                ],
            )
        await dbm.close_db()
        await dbm.migrate(settings)
        await dbm.init_db(settings)
        rows = await dbm.connection().execute_query_dict("SELECT status_index FROM certificate")
        indexes = [r["status_index"] for r in rows]
        assert len(indexes) == 5 and len(set(indexes)) == 5
        assert all(0 <= i < status_lists.MIN_BITS for i in indexes)
    finally:
        await dbm.close_db()
        await _drop(name)


async def test_an_empty_register_publishes_an_empty_list(client: httpx.AsyncClient) -> None:
    credential = await _verified(client, (await client.get(f"{LISTS}/revocation")).text)
    assert "validFrom" not in credential  # no change to date it by
    assert _decode(credential["credentialSubject"]["encodedList"]) == bytes(131_072 // 8)
