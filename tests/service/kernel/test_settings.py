"""Settings come from FANGXIN_* variables only and are checked at start-up."""

from __future__ import annotations

import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from service.kernel.settings import SettingsError, load_settings


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"FANGXIN_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite://{tmp_path}/fangxin.sqlite3"
    assert s.sqlite_path == tmp_path / "fangxin.sqlite3"
    assert s.base_url == "http://127.0.0.1:8000"
    assert s.env == "development" and not s.production
    assert s.redis_url is None


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"FANGXIN_DATA_DIR": str(tmp_path)}).secret_key
    second = load_settings({"FANGXIN_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 48
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def _generated_key(data_dir: str) -> str:
    return load_settings({"FANGXIN_DATA_DIR": data_dir}).secret_key


def test_processes_starting_at_once_agree_on_one_generated_key(tmp_path: Path) -> None:
    # Web workers and `fangxin worker` start together on a fresh data dir: one key for all,
    # and none of them stops on the file another is creating.
    with ProcessPoolExecutor(max_workers=6) as pool:
        keys = list(pool.map(_generated_key, [str(tmp_path)] * 24))
    assert len(set(keys)) == 1 and len(keys[0]) >= 48
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no drafts left behind


def test_given_secret_key_is_used(tmp_path: Path) -> None:
    s = load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_SECRET_KEY": "k" * 40})
    assert s.secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("FANGXIN_DATABASE_URL", "mysql://root@localhost/x", "FANGXIN_DATABASE_URL must start"),
        ("FANGXIN_DATABASE_URL", "postgres://:5432/", "needs a host and a database name"),
        ("FANGXIN_DATABASE_URL", "postgres://h:notaport/db", "bad port"),
        ("FANGXIN_DATABASE_URL", "sqlite://", "needs a file path"),
        ("FANGXIN_BASE_URL", "fangxin.example", "FANGXIN_BASE_URL must be an http"),
        ("FANGXIN_REDIS_URL", "localhost:6379", "FANGXIN_REDIS_URL must be a redis"),
        ("FANGXIN_ENV", "prod", "FANGXIN_ENV must be one of"),
        ("FANGXIN_SECRET_KEY", "short", "at least 32"),
        ("FANGXIN_RATE_LIMIT_PER_MINUTE", "lots", "whole number"),
        ("FANGXIN_LOGIN_MAX_FAILURES", "0", "must be positive"),
    ],
)
def test_bad_values_stop_start_up_with_the_variable_named(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"FANGXIN_DATA_DIR": str(tmp_path), name: value})


def test_postgres_url_is_accepted(tmp_path: Path) -> None:
    s = load_settings(
        {
            "FANGXIN_DATA_DIR": str(tmp_path),
            "FANGXIN_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/fangxin",
        }
    )
    assert s.is_postgres and s.sqlite_path is None


def test_single_sign_on_settings(tmp_path: Path) -> None:
    assert load_settings({"FANGXIN_DATA_DIR": str(tmp_path)}).oidc is None
    secret = tmp_path / "oidc_secret"
    secret.write_text("from-a-file\n", encoding="utf-8")
    env = {
        "FANGXIN_DATA_DIR": str(tmp_path),
        "FANGXIN_OIDC_ISSUER": "https://sso.example.gov.cn/realms/zmd/",
        "FANGXIN_OIDC_CLIENT_ID": "fangxin",
        "FANGXIN_OIDC_CLIENT_SECRET_FILE": str(secret),
        "FANGXIN_OIDC_ROLES": "scjgj-staff=official, scjgj-it=admin",
        "FANGXIN_OIDC_ROLE_CLAIM": "groups",
        "FANGXIN_OIDC_MFA_AMR": "",
        "FANGXIN_SECOND_FACTOR_REQUIRED": "official,admin",
    }
    s = load_settings(env)
    assert s.oidc is not None
    assert s.oidc.issuer == "https://sso.example.gov.cn/realms/zmd"
    assert s.oidc.client_secret == "from-a-file"
    assert s.oidc.roles == (("scjgj-staff", "official"), ("scjgj-it", "admin"))
    assert s.oidc.role_for("scjgj-it") == "admin" and s.oidc.role_for("other") is None
    assert s.oidc.role_claim == "groups" and s.oidc.district_claim == "fangxin_district"
    assert s.oidc.mfa_amr == ()  # ours is always asked
    assert s.second_factor_required == frozenset({"official", "admin"})
    assert load_settings({**env, "FANGXIN_OIDC_MFA_AMR": "mfa,hwk"}).oidc.mfa_amr == (  # type: ignore[union-attr]
        "mfa",
        "hwk",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"FANGXIN_OIDC_ROLES": "staff=boss"}, "FANGXIN_OIDC_ROLES maps claim values"),
        ({"FANGXIN_OIDC_ROLES": ""}, "at least one claim value"),
        ({"FANGXIN_OIDC_CLIENT_SECRET": ""}, "FANGXIN_OIDC_CLIENT_SECRET"),
        ({"FANGXIN_OIDC_ISSUER": "sso.example"}, "FANGXIN_OIDC_ISSUER must be an http"),
        ({"FANGXIN_OIDC_CLIENT_SECRET_FILE": "/nonexistent"}, "are both set"),
        ({"FANGXIN_SECOND_FACTOR_REQUIRED": "merchant"}, "got merchant"),
    ],
)
def test_bad_single_sign_on_settings_stop_the_start(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    env = {
        "FANGXIN_DATA_DIR": str(tmp_path),
        "FANGXIN_OIDC_ISSUER": "https://sso.example.gov.cn",
        "FANGXIN_OIDC_CLIENT_ID": "fangxin",
        "FANGXIN_OIDC_CLIENT_SECRET": "s3cret",
        "FANGXIN_OIDC_ROLES": "staff=official",
    }
    with pytest.raises(SettingsError, match=message):
        load_settings({**env, **change})


def test_secrets_come_from_files_named_by_the_file_variables(tmp_path: Path) -> None:
    # Compose and container secrets: /run/secrets/<name>, written by `echo` (a line end).
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "key").write_text("s" * 40 + "\n", encoding="utf-8")
    (secrets_dir / "db").write_text(
        "postgres://fangxin:pa ss@db:5432/fangxin\r\n", encoding="utf-8"
    )
    (secrets_dir / "token").write_text("t" * 32, encoding="utf-8")
    data = tmp_path / "data"
    s = load_settings(
        {
            "FANGXIN_DATA_DIR": str(data),
            "FANGXIN_SECRET_KEY_FILE": str(secrets_dir / "key"),
            "FANGXIN_DATABASE_URL_FILE": str(secrets_dir / "db"),
            "FANGXIN_METRICS_TOKEN_FILE": str(secrets_dir / "token"),
        }
    )
    assert s.secret_key == "s" * 40
    assert not (data / "secret_key").exists()  # given, so none generated
    assert s.database_url == "postgres://fangxin:pa ss@db:5432/fangxin"
    assert s.metrics_token == "t" * 32


def test_a_file_variable_is_validated_as_its_value_would_be(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("short\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="FANGXIN_SECRET_KEY must be at least 32"):
        load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_SECRET_KEY_FILE": str(short)})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"FANGXIN_SECRET_KEY": "k" * 40},
            "FANGXIN_SECRET_KEY and FANGXIN_SECRET_KEY_FILE are both",
        ),
        ({"FANGXIN_SECRET_KEY_FILE": "/nonexistent/key"}, "FANGXIN_SECRET_KEY_FILE '/nonexist"),
    ],
)
def test_file_variables_refused_with_their_name(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    key = tmp_path / "key"
    key.write_text("k" * 40, encoding="utf-8")
    env = {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_SECRET_KEY_FILE": str(key), **extra}
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"FANGXIN_WEBHOOK_SECRET_FILE .* is empty"):
        load_settings(
            {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_WEBHOOK_SECRET_FILE": str(empty)}
        )


def test_the_workdays_file_variable_names_a_file_not_a_secret(tmp_path: Path) -> None:
    # FANGXIN_WORKDAYS_FILE is a setting of its own: it does not become FANGXIN_WORKDAYS.
    calendar = tmp_path / "cal.toml"
    calendar.write_text("", encoding="utf-8")
    s = load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_WORKDAYS_FILE": str(calendar)})
    assert s.workdays_file == calendar
