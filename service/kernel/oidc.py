"""Staff sign-in by OpenID Connect: the authorization code flow with PKCE (S256), a state and
a nonce kept server-side in the visitor's session and spent by the callback, and the ID token
validated here (signature against the provider's JWKS from its discovery document, issuer,
audience, expiry, nonce) before any claim is believed.

Built on Authlib (request URI, PKCE, random values) and joserfc (JWS and claims), the library
Authlib itself now builds its JOSE on.

Accounts are linked by (issuer, subject), nothing else. Policy on the first sign-in of a
subject: a new staff account is created for it (named by ``preferred_username`` when that is
a free, valid account name, else ``sso-`` and a hash of the subject), with no usable
password; an existing local account is never linked by a matching name or e-mail address, so
that a name chosen at the provider cannot take over an account here. The role and the
district come from configured claims at every sign-in: a change at the provider changes the
account (audited, its other sessions ended). Only officials and administrators sign in so: a
claim mapped to any other role, or to none, is refused.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.accounts import USERNAME_RE, district_for, end_sessions
from service.kernel.audit import Actor
from service.kernel.errors import FangxinError
from service.kernel.i18n import N_
from service.kernel.models import Account, ExternalIdentity, Role
from service.kernel.settings import OidcSettings

CALLBACK_PATH: Final = "/login/oidc/callback"
HTTP_TIMEOUT: Final = 10.0
METADATA_FOR: Final = 3600.0  # seconds a discovery document and its JWKS are kept
LEEWAY: Final = 60  # seconds of clock difference allowed on exp / iat
STAFF_ROLES: Final = (Role.OFFICIAL, Role.ADMIN)
# A password hash argon2 cannot parse: an account made by single sign-on has no password
# until an administrator sets one.
NO_PASSWORD: Final = "!sso"  # noqa: S105 - a marker, not a password

REFUSED = N_("Single sign-on did not sign you in. Start again, or sign in with a password.")
NOT_STAFF = N_(
    "Your single sign-on account is not given a role here. Ask the bureau's IT to grant it."
)
PROVIDER_DOWN = N_("The single sign-on service does not answer. Try again in a few minutes.")


class OidcRefused(FangxinError):
    status = 401
    title = "Single sign-on refused"

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason  # for the audit log and the tests, never shown


@dataclass(frozen=True, slots=True)
class Pending:
    """What the callback needs to finish a sign-in, kept in the session until then."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "nonce": self.nonce,
            "verifier": self.verifier,
            "next": self.next,
            "started": self.started,
        }

    @classmethod
    def from_dict(cls, raw: object) -> Pending | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                str(raw["state"]),
                str(raw["nonce"]),
                str(raw["verifier"]),
                str(raw["next"]),
                float(raw["started"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class _Provider:
    metadata: dict[str, Any]
    keys: KeySet | None
    fetched: float


_providers: dict[str, _Provider] = {}


def forget() -> None:
    """Drop every cached discovery document and key set (tests, a key rotation)."""
    _providers.clear()


async def metadata(oidc: OidcSettings) -> dict[str, Any]:
    """The provider's discovery document, whose ``issuer`` must be the configured one."""
    cached = _providers.get(oidc.issuer)
    if cached is not None and time.monotonic() - cached.fetched < METADATA_FOR:
        return cached.metadata
    url = f"{oidc.issuer}/.well-known/openid-configuration"
    doc = await _get_json(url)
    if doc.get("issuer") != oidc.issuer:
        raise OidcRefused(REFUSED, f"discovery names issuer {doc.get('issuer')!r}")
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(field), str):
            raise OidcRefused(REFUSED, f"discovery has no {field}")
    _providers[oidc.issuer] = _Provider(doc, None, time.monotonic())
    return doc


async def _keys(oidc: OidcSettings, *, refresh: bool = False) -> KeySet:
    doc = await metadata(oidc)
    provider = _providers[oidc.issuer]
    if provider.keys is None or refresh:
        try:
            provider.keys = KeySet.import_key_set(await _get_json(doc["jwks_uri"]))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcRefused(REFUSED, f"unusable JWKS: {exc}") from exc
    return provider.keys


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused(PROVIDER_DOWN, f"{url}: {exc}") from exc
    if not isinstance(body, dict):
        raise OidcRefused(REFUSED, f"{url} answered no JSON object")
    return body


def redirect_uri(base_url: str) -> str:
    return base_url + CALLBACK_PATH


async def begin(oidc: OidcSettings, base_url: str, next_path: str) -> tuple[str, Pending]:
    """Where to send the browser, and what to keep for the callback."""
    doc = await metadata(oidc)
    pending = Pending(
        state=generate_token(32),
        nonce=generate_token(32),
        verifier=generate_token(64),  # RFC 7636: 43–128 characters
        next=next_path,
        started=time.time(),
    )
    url = prepare_grant_uri(
        doc["authorization_endpoint"],
        oidc.client_id,
        "code",
        redirect_uri(base_url),
        oidc.scopes,
        pending.state,
        nonce=pending.nonce,
        code_challenge=create_s256_code_challenge(pending.verifier),
        code_challenge_method="S256",
    )
    return str(url), pending


async def finish(
    oidc: OidcSettings, base_url: str, pending: Pending, code: str, *, now: int | None = None
) -> dict[str, Any]:
    """Exchange the code (with the PKCE verifier) and return the validated ID token's claims."""
    doc = await metadata(oidc)
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.post(
                doc["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri(base_url),
                    "code_verifier": pending.verifier,
                },
                auth=(oidc.client_id, oidc.client_secret),
                headers={"Accept": "application/json"},
            )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused(PROVIDER_DOWN, f"token endpoint: {exc}") from exc
    if response.status_code != 200 or not isinstance(body, dict):
        raise OidcRefused(REFUSED, f"token endpoint answered {response.status_code}")
    id_token = body.get("id_token")
    if not isinstance(id_token, str):
        raise OidcRefused(REFUSED, "no ID token")
    return await validate_id_token(oidc, id_token, pending.nonce, now=now)


async def validate_id_token(
    oidc: OidcSettings, id_token: str, nonce: str, *, now: int | None = None
) -> dict[str, Any]:
    doc = await metadata(oidc)
    algorithms = [
        a
        for a in doc.get("id_token_signing_alg_values_supported") or ["RS256"]
        if isinstance(a, str) and a != "none" and not a.startswith("HS")
    ]
    try:
        try:
            token = jwt.decode(id_token, await _keys(oidc), algorithms=algorithms)
        except JoseError:
            # A key unknown to the cached set: the provider may have rotated its keys.
            token = jwt.decode(id_token, await _keys(oidc, refresh=True), algorithms=algorithms)
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY,
            iss={"essential": True, "value": oidc.issuer},
            aud={"essential": True, "value": oidc.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except JoseError as exc:
        raise OidcRefused(REFUSED, f"ID token refused: {exc}") from exc
    claims = dict(token.claims)
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != oidc.client_id:
        raise OidcRefused(REFUSED, "ID token for several audiences without our azp")
    return claims


def mfa_asserted(oidc: OidcSettings, claims: dict[str, Any]) -> bool:
    """Whether the provider says it checked a second factor itself (``amr``, RFC 8176)."""
    amr = claims.get("amr")
    values = {a for a in amr if isinstance(a, str)} if isinstance(amr, list) else set()
    return bool(values & set(oidc.mfa_amr))


def role_of(oidc: OidcSettings, claims: dict[str, Any]) -> Role:
    """The staff role the configured claim maps to. A claim may hold one value or a list
    (groups); values mapped to nothing are ignored, any value mapped to a role that may not
    sign in so (merchant, area manager, feed) refuses the sign-in."""
    raw = claims.get(oidc.role_claim)
    values = raw if isinstance(raw, list) else [raw]
    roles = {Role(r) for v in values if isinstance(v, str) and (r := oidc.role_for(v))}
    if not roles:
        raise OidcRefused(NOT_STAFF, f"claim {oidc.role_claim}={raw!r} maps to no role")
    if roles - set(STAFF_ROLES):
        names = ", ".join(sorted(r.value for r in roles))
        raise OidcRefused(NOT_STAFF, f"claim {oidc.role_claim}={raw!r} maps to {names}")
    return Role.ADMIN if Role.ADMIN in roles else Role.OFFICIAL


async def sign_in(
    oidc: OidcSettings, claims: dict[str, Any], *, address: str | None = None
) -> Account:
    """The account of this identity, created on its first sign-in and brought in line with
    the claims at every one; audited as a login."""
    subject = str(claims["sub"])
    role = role_of(oidc, claims)
    district_code = claims.get(oidc.district_claim) if role == Role.OFFICIAL else None
    if district_code is not None and not isinstance(district_code, str):
        raise OidcRefused(NOT_STAFF, f"claim {oidc.district_claim} is no area code")
    district, problems = await district_for(role, district_code or None)
    if problems:
        raise OidcRefused(NOT_STAFF, f"claim {oidc.district_claim}={district_code!r}: unknown")
    now = datetime.now(UTC)
    actor = Actor("oidc", oidc.issuer)
    async with in_transaction() as conn:
        identity = (
            await ExternalIdentity.filter(issuer=oidc.issuer, subject=subject)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if identity is None:
            username = await _free_username(oidc, claims, subject)
            account = await Account.create(
                using_db=conn,
                username=username,
                password_hash=NO_PASSWORD,
                role=role,
                district=district,
            )
            identity = await ExternalIdentity.create(
                using_db=conn, account=account, issuer=oidc.issuer, subject=subject
            )
            await audit.record(
                conn,
                actor,
                "account.created",
                f"account:{username}",
                {
                    "role": role.value,
                    "district": district.code if district else None,
                    "via": "oidc",
                    "issuer": oidc.issuer,
                    "subject": subject,
                },
            )
        else:
            account = await Account.filter(id=identity.account_id).using_db(conn).get()
            if not account.active:
                raise OidcRefused(REFUSED, "account locked")
            new_district = district.id if district else None
            if account.role != role or account.district_id != new_district:
                before = (account.role.value, account.district_id)
                account.role = role
                account.district_id = new_district
                account.merchant_id = None
                account.area_id = None
                await account.save(
                    using_db=conn, update_fields=["role", "district_id", "merchant_id", "area_id"]
                )
                await end_sessions(conn, account)
                account.session_epoch += 1
                await audit.record(
                    conn,
                    actor,
                    "account.role_changed",
                    f"account:{account.username}",
                    {
                        "from": before[0],
                        "to": role.value,
                        "district": district.code if district else None,
                        "via": "oidc",
                        "sessions_ended": True,
                    },
                )
        identity.last_login_at = now
        await identity.save(using_db=conn, update_fields=["last_login_at"])
        account.last_login_at = now
        await account.save(using_db=conn, update_fields=["last_login_at"])
        await audit.record(
            conn,
            Actor("account", account.username),
            "login.succeeded",
            f"account:{account.username}",
            {"address": address or "unknown", "at": now.isoformat(), "via": "oidc"},
        )
    return account


async def refused(oidc: OidcSettings, reason: str, address: str | None) -> None:
    """Audit a refused single sign-on (no account is named: there may be none)."""
    async with in_transaction() as conn:
        await audit.record(
            conn,
            Actor("oidc", oidc.issuer),
            "login.oidc_refused",
            f"oidc:{oidc.issuer}",
            {"reason": reason[:500], "address": address or "unknown"},
        )


async def _free_username(oidc: OidcSettings, claims: dict[str, Any], subject: str) -> str:
    wanted = claims.get("preferred_username")
    if (
        isinstance(wanted, str)
        and USERNAME_RE.fullmatch(wanted)
        and not await Account.exists(username=wanted)
    ):
        return wanted
    digest = hashlib.sha256(f"{oidc.issuer}\x00{subject}".encode()).hexdigest()
    return f"sso-{digest[:16]}"
