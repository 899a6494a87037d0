"""The only reader of the environment: every setting comes from a ``FANGXIN_*`` variable,
or from the file its ``FANGXIN_*_FILE`` form names (secrets; ``with_files``).

Settings are validated once, at start-up, so a typo in a URL stops the service with a
message naming the variable instead of failing on the first request.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "test", "production")
SECRET_FILE = "secret_key"  # noqa: S105 - a file name
WORKDAYS_FILE = "workdays.toml"  # the bureau's working-day calendar, when kept in the data dir
# Variables whose own name ends in _FILE (they name a file the service reads as such): not
# the secret-in-a-file form of another variable.
NAMED_FILE_VARIABLES = frozenset({"FANGXIN_WORKDAYS_FILE"})


class SettingsError(Exception):
    """A ``FANGXIN_*`` variable holds a value the service cannot use."""


ICP_LINK = "https://beian.miit.gov.cn/"
PUBLIC_SECURITY_LINK = "http://www.beian.gov.cn/portal/registerSystemInfo?recordcode="
SITE_TEXT_MAX = 200


@dataclass(frozen=True, slots=True)
class Site:
    """What a Chinese deployment prints at the foot of every page: the bureau running it,
    its contact lines and the site's filing numbers (ICP备案号, 公安备案号), each left out
    when unset. Links only: nothing is fetched from the registries."""

    bureau_name: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    icp_number: str | None = None  # e.g. 豫ICP备12345678号-1
    public_security_number: str | None = None  # e.g. 豫公网安备41170202000123号

    @property
    def contact(self) -> bool:
        return bool(self.address or self.phone or self.email)

    @property
    def public_security_url(self) -> str | None:
        """The Ministry of Public Security's page for the record: its code is the number's
        digits."""
        if not self.public_security_number:
            return None
        digits = "".join(c for c in self.public_security_number if c.isascii() and c.isdigit())
        return PUBLIC_SECURITY_LINK + digits

    @property
    def phone_link(self) -> str | None:
        if not self.phone:
            return None
        return "tel:" + "".join(c for c in self.phone if c.isdigit() or c == "+")


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    base_url: str
    secret_key: str
    env: str
    rate_limit_per_minute: int
    login_max_failures: int
    login_lockout_minutes: int
    # A city's own credit rule table (same keys as scoring/credit/credit_rules.toml), else ours.
    credit_rules: Path | None = None
    # A city's own certification policy (same keys as certificates/policy.toml), else ours.
    certificate_policy: Path | None = None
    # The issuing key as PKCS#12; without one, a key is generated into the data dir.
    signing_p12: Path | None = None
    signing_p12_password: str | None = None
    # Where status changes are posted (HMAC-SHA256 signed with the secret); unset: kept only.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # Peers whose Forwarded / X-Forwarded-For headers name the real client (a reverse proxy);
    # empty: every peer is the client, whatever headers it sends.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # The bureau's working-day calendar (holidays and make-up workdays per year), else ours.
    workdays_file: Path | None = None
    # The periodic jobs' schedule (service/jobs.py reads it), else the defaults there.
    jobs_file: Path | None = None
    # A bearer token that reads /metrics and nothing else (a Prometheus scraper's).
    metrics_token: str | None = None
    # Free space in the data dir below which the officials' desk warns (bytes).
    disk_warn_bytes: int = 1024 * 1024 * 1024
    # How long a password reset code an official issues stays valid (service.kernel.passwords).
    password_reset_hours: int = 24
    # The footer's bureau, contact lines and filing numbers; empty by default.
    site: Site = Site()
    # Staff sign-in by OpenID Connect (service/kernel/oidc.py); None: local accounts only.
    oidc: OidcSettings | None = None
    # Roles that must pass a second factor (TOTP) at every sign-in (kernel/second_factor.py).
    second_factor_required: frozenset[str] = frozenset()

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for an SQLite URL, else None."""
        if self.is_postgres:
            return None
        return sqlite_path_of(self.database_url)

    @property
    def pdf_dir(self) -> Path:
        return self.data_dir / "pdf"


# Roles a claim value may be mapped to: every role of service.kernel.models.Role (the sign-in
# refuses all but official and admin, so that a mapping to merchant is refused, not ignored).
CLAIM_ROLES: tuple[str, ...] = ("merchant", "official", "admin", "feed", "area_manager")
SECOND_FACTOR_ROLES: tuple[str, ...] = ("official", "admin")


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """One OpenID Connect provider (the bureau's or the government's single sign-on)."""

    issuer: str
    client_id: str
    client_secret: str
    # The claim naming the staff member's role, and which of its values mean which role.
    role_claim: str = "fangxin_role"
    roles: tuple[tuple[str, str], ...] = ()
    # The claim naming an official's district (an area code); absent or empty: the city bureau.
    district_claim: str = "fangxin_district"
    scopes: str = "openid profile"
    # ``amr`` values (RFC 8176) by which the provider asserts a second factor of its own; a
    # sign-in asserting one of them is not asked for ours. Empty: ours is always asked.
    mfa_amr: tuple[str, ...] = ("mfa",)

    def role_for(self, value: str) -> str | None:
        return dict(self.roles).get(value)


def sqlite_path_of(url: str) -> Path:
    """``sqlite:///abs/path.db`` → /abs/path.db; ``sqlite://rel.db`` → rel.db (from cwd)."""
    rest = url.removeprefix("sqlite://")
    return Path(rest).resolve()


def _validate_database_url(value: str) -> str:
    if value.startswith("sqlite://"):
        rest = value.removeprefix("sqlite://")
        if not rest or rest == ":memory:":
            raise SettingsError(
                "FANGXIN_DATABASE_URL: an SQLite URL needs a file path, "
                f"e.g. sqlite:///var/lib/fangxin/fangxin.sqlite3 (got {value!r})"
            )
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SettingsError(
            f"FANGXIN_DATABASE_URL must start with sqlite:// or postgres:// (got {value!r})"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"FANGXIN_DATABASE_URL has a bad port: {value!r}") from exc
    if not parts.hostname or not parts.path.strip("/"):
        raise SettingsError(
            "FANGXIN_DATABASE_URL needs a host and a database name, "
            f"e.g. postgres://postgres@127.0.0.1:5432/fangxin (got {value!r})"
        )
    del port
    return value


def _validate_http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL (got {value!r})")
    return value.rstrip("/")


def _validate_redis_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise SettingsError(f"FANGXIN_REDIS_URL must be a redis:// URL (got {value!r})")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number (got {raw!r})") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive (got {value})")
    return value


def _secret_key(env: Mapping[str, str], data_dir: Path) -> str:
    given = env.get("FANGXIN_SECRET_KEY")
    if given:
        if len(given) < 32:
            raise SettingsError("FANGXIN_SECRET_KEY must be at least 32 characters long")
        return given
    # Generated once and kept, so a restart does not log everybody out.
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    # Written whole to a file of its own, then linked into place: of processes starting at
    # once (web workers, `fangxin worker`), one link wins and the others read the winner's
    # key, never a half-written file.
    key = secrets.token_urlsafe(48)
    draft = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key)
        os.link(draft, path)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    finally:
        draft.unlink(missing_ok=True)
    return key


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: the process environment), validating every value."""
    env = with_files(os.environ if env is None else env)
    data_dir = Path(env.get("FANGXIN_DATA_DIR") or "./var").resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"FANGXIN_DATA_DIR {str(data_dir)!r} cannot be created: {exc}") from exc

    database_url = _validate_database_url(
        env.get("FANGXIN_DATABASE_URL") or f"sqlite://{data_dir / 'fangxin.sqlite3'}"
    )
    redis_raw = env.get("FANGXIN_REDIS_URL")
    redis_url = _validate_redis_url(redis_raw) if redis_raw else None
    base_url = _validate_http_url(
        "FANGXIN_BASE_URL", env.get("FANGXIN_BASE_URL") or "http://127.0.0.1:8000"
    )
    webhook_raw = env.get("FANGXIN_WEBHOOK_URL")
    webhook_url = _validate_http_url("FANGXIN_WEBHOOK_URL", webhook_raw) if webhook_raw else None
    webhook_secret = env.get("FANGXIN_WEBHOOK_SECRET") or None
    if webhook_url and (webhook_secret is None or len(webhook_secret) < 32):
        raise SettingsError(
            "FANGXIN_WEBHOOK_SECRET must be set (at least 32 characters) with FANGXIN_WEBHOOK_URL"
        )
    app_env = env.get("FANGXIN_ENV") or "development"
    if app_env not in ENVIRONMENTS:
        raise SettingsError(
            f"FANGXIN_ENV must be one of {', '.join(ENVIRONMENTS)} (got {app_env!r})"
        )

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        base_url=base_url,
        secret_key=_secret_key(env, data_dir),
        env=app_env,
        rate_limit_per_minute=_positive_int(env, "FANGXIN_RATE_LIMIT_PER_MINUTE", 600),
        login_max_failures=_positive_int(env, "FANGXIN_LOGIN_MAX_FAILURES", 5),
        login_lockout_minutes=_positive_int(env, "FANGXIN_LOGIN_LOCKOUT_MINUTES", 15),
        credit_rules=_optional_file(env, "FANGXIN_CREDIT_RULES"),
        certificate_policy=_optional_file(env, "FANGXIN_CERTIFICATE_POLICY"),
        signing_p12=_optional_file(env, "FANGXIN_SIGNING_P12"),
        signing_p12_password=env.get("FANGXIN_SIGNING_P12_PASSWORD") or None,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        trusted_proxies=_trusted_proxies(env.get("FANGXIN_TRUSTED_PROXIES") or ""),
        workdays_file=_optional_file(env, "FANGXIN_WORKDAYS_FILE")
        or _kept(data_dir, WORKDAYS_FILE),
        jobs_file=_optional_file(env, "FANGXIN_JOBS"),
        metrics_token=_metrics_token(env),
        disk_warn_bytes=_positive_int(env, "FANGXIN_DISK_WARN_MB", 1024) * 1024 * 1024,
        password_reset_hours=_positive_int(env, "FANGXIN_PASSWORD_RESET_HOURS", 24),
        site=_site(env),
        oidc=_oidc(env),
        second_factor_required=_second_factor_required(env),
    )


def _site_text(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    if len(value) > SITE_TEXT_MAX or not value.isprintable():
        raise SettingsError(
            f"{name} must be one line of at most {SITE_TEXT_MAX} printable characters"
        )
    return value


def _site(env: Mapping[str, str]) -> Site:
    phone = _site_text(env, "FANGXIN_BUREAU_PHONE")
    if phone and not any(c.isdigit() for c in phone):
        raise SettingsError(f"FANGXIN_BUREAU_PHONE must hold a number (got {phone!r})")
    email = _site_text(env, "FANGXIN_BUREAU_EMAIL")
    if email and (
        email.count("@") != 1 or " " in email or not all(email.split("@")) or "/" in email
    ):
        raise SettingsError(f"FANGXIN_BUREAU_EMAIL must be an email address (got {email!r})")
    police = _site_text(env, "FANGXIN_PUBLIC_SECURITY_NUMBER")
    if police and not any(c.isascii() and c.isdigit() for c in police):
        raise SettingsError(
            "FANGXIN_PUBLIC_SECURITY_NUMBER must hold the record's digits, "
            f"e.g. 豫公网安备41170202000123号 (got {police!r})"
        )
    return Site(
        bureau_name=_site_text(env, "FANGXIN_BUREAU_NAME"),
        address=_site_text(env, "FANGXIN_BUREAU_ADDRESS"),
        phone=phone,
        email=email,
        icp_number=_site_text(env, "FANGXIN_ICP_NUMBER"),
        public_security_number=police,
    )


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    issuer_raw = env.get("FANGXIN_OIDC_ISSUER") or None
    if issuer_raw is None:
        return None
    issuer = _validate_http_url("FANGXIN_OIDC_ISSUER", issuer_raw)
    client_id = env.get("FANGXIN_OIDC_CLIENT_ID") or ""
    secret = env.get("FANGXIN_OIDC_CLIENT_SECRET") or None  # or its _FILE: with_files
    if not client_id or not secret:
        raise SettingsError(
            "FANGXIN_OIDC_CLIENT_ID and FANGXIN_OIDC_CLIENT_SECRET (or _FILE) must be set "
            "with FANGXIN_OIDC_ISSUER"
        )
    roles = []
    for entry in (e.strip() for e in (env.get("FANGXIN_OIDC_ROLES") or "").split(",")):
        if not entry:
            continue
        value, sep, role = (part.strip() for part in entry.rpartition("="))
        if not sep or not value or role not in CLAIM_ROLES:
            raise SettingsError(
                "FANGXIN_OIDC_ROLES maps claim values to roles, comma-separated, e.g. "
                f"bureau-official=official,bureau-it=admin (got {entry!r})"
            )
        roles.append((value, role))
    if not roles:
        raise SettingsError("FANGXIN_OIDC_ROLES must map at least one claim value to a role")
    amr_raw = env.get("FANGXIN_OIDC_MFA_AMR")
    mfa_amr = ("mfa",) if amr_raw is None else tuple(a for a in amr_raw.split(",") if a.strip())
    return OidcSettings(
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        role_claim=env.get("FANGXIN_OIDC_ROLE_CLAIM") or "fangxin_role",
        roles=tuple(roles),
        district_claim=env.get("FANGXIN_OIDC_DISTRICT_CLAIM") or "fangxin_district",
        scopes=env.get("FANGXIN_OIDC_SCOPES") or "openid profile",
        mfa_amr=tuple(a.strip() for a in mfa_amr),
    )


def _second_factor_required(env: Mapping[str, str]) -> frozenset[str]:
    raw = env.get("FANGXIN_SECOND_FACTOR_REQUIRED") or ""
    roles = frozenset(r.strip() for r in raw.split(",") if r.strip())
    unknown = roles - set(SECOND_FACTOR_ROLES)
    if unknown:
        raise SettingsError(
            "FANGXIN_SECOND_FACTOR_REQUIRED lists the roles that must use a second factor: "
            f"official, admin, comma-separated (got {', '.join(sorted(unknown))})"
        )
    return roles


def with_files(env: Mapping[str, str]) -> Mapping[str, str]:
    """Every ``FANGXIN_X_FILE=/path`` read into ``FANGXIN_X``: secrets as files (container and
    compose secrets, systemd credentials) instead of values in the environment, which ``ps e``
    and ``/proc/<pid>/environ`` show. The file's trailing line ends are dropped (``echo`` adds
    one). Setting both forms of one variable, or naming a file that cannot be read, stops
    start-up with the variable named."""
    merged = dict(env)
    for name, raw in env.items():
        if not (name.startswith("FANGXIN_") and name.endswith("_FILE")):
            continue
        if name in NAMED_FILE_VARIABLES or not raw:
            continue
        target = name.removesuffix("_FILE")
        if env.get(target):
            raise SettingsError(f"{target} and {name} are both set: set one of them")
        try:
            value = Path(raw).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{name} {raw!r} cannot be read: {exc}") from exc
        if not value:
            raise SettingsError(f"{name} {raw!r} is empty")
        merged[target] = value
    return merged


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = env.get("FANGXIN_METRICS_TOKEN") or None
    if token is not None and (len(token) < 32 or not token.isprintable() or " " in token):
        raise SettingsError(
            "FANGXIN_METRICS_TOKEN must be at least 32 printable characters without spaces"
        )
    return token


def _kept(data_dir: Path, name: str) -> Path | None:
    path = data_dir / name
    return path if path.is_file() else None


def _trusted_proxies(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in (e.strip() for e in raw.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as exc:
            # Host names are refused too: trust must not change with what DNS answers.
            raise SettingsError(
                "FANGXIN_TRUSTED_PROXIES must list IP addresses or networks, comma-separated, "
                f"e.g. 127.0.0.1,10.0.0.0/8 (got {entry!r}: {exc})"
            ) from exc
    return tuple(networks)


def _optional_file(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    if not raw:
        return None
    path = Path(raw).resolve()
    if not path.is_file():
        raise SettingsError(f"{name} {raw!r} is not a readable file")
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
