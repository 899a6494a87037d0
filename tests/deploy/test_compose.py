"""deploy/compose.yaml: what each service gets (secrets as files, the settings they make,
healthchecks, start order), read as Compose would read it, and its nginx server run with the
shipped locations. No container runtime runs here: scripts/test-image.sh runs the image."""

from __future__ import annotations

import json
import re
import shutil
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from service.kernel.settings import load_settings
from tests.deploy.test_nginx import _certificate, nginx
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("migrate", "web", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _defaults(value: str) -> str:
    """${VAR:-default} as Compose substitutes it with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_every_service_and_what_it_waits_for(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "nginx", "static", *APP_SERVICES}
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["worker"]["command"] == ["worker"]
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}
    for name in ("postgres", "redis", "web", "nginx"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    # PostgreSQL and Redis on the internal network only.
    assert compose["networks"]["back"]["internal"] is True
    assert services["postgres"]["networks"] == ["back"] == services["redis"]["networks"]


def test_secrets_are_files_each_service_is_given(compose: dict[str, Any]) -> None:
    declared = compose["secrets"]
    for name, service in compose["services"].items():
        given = set(service.get("secrets", []))
        assert given <= set(declared), name
        for variable, value in (service.get("environment") or {}).items():
            if variable.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert value.startswith("/run/secrets/") and secret in given, (name, variable)
            else:  # nothing secret in the environment itself
                assert not re.search("PASSWORD|SECRET|TOKEN|DATABASE_URL", variable), variable
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/db_password"
    )
    for secret in declared.values():
        assert secret["file"].startswith("./secrets/")


def test_the_app_environment_makes_valid_production_settings(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    web = compose["services"]["web"]
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    # As the header of compose.yaml makes them (printf: no line end; openssl: one).
    (secrets_dir / "database_url").write_text(
        "postgres://fangxin:0123abcd@postgres:5432/fangxin", encoding="utf-8"
    )
    (secrets_dir / "secret_key").write_text("A" * 64 + "\n", encoding="utf-8")
    env = {
        name: _defaults(value).replace("/run/secrets/", f"{secrets_dir}/")
        for name, value in web["environment"].items()
    }
    settings = load_settings({**env, "FANGXIN_DATA_DIR": str(tmp_path / "data")})
    assert settings.production and settings.is_postgres
    assert settings.database_url == "postgres://fangxin:0123abcd@postgres:5432/fangxin"
    assert settings.secret_key == "A" * 64
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.base_url == "https://fangxin.example.gov.cn"
    # nginx's fixed address is the one trusted proxy, inside the front network.
    nginx_address = compose["services"]["nginx"]["networks"]["front"]["ipv4_address"]
    assert [str(n) for n in settings.trusted_proxies] == [f"{nginx_address}/32"]
    subnet = compose["networks"]["front"]["ipam"]["config"][0]["subnet"]
    assert subnet == "172.30.0.0/24" and nginx_address.startswith("172.30.0.")
    # Every app service shares the one environment and the data volume.
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["environment"] == web["environment"], name
        assert "data:/var/lib/fangxin" in service["volumes"], name


def test_web_serves_on_the_port_the_image_checks(compose: dict[str, Any]) -> None:
    containerfile = (ROOT / "Containerfile").read_text(encoding="utf-8")
    image_check = json.loads(re.search(r"HEALTHCHECK [^\n]*\\\n\s+CMD (\[.*\])", containerfile)[1])  # type: ignore[index]
    image_cmd = json.loads(re.search(r"^CMD (\[.*\])$", containerfile, re.M)[1])  # type: ignore[index]
    web = compose["services"]["web"]
    assert web["healthcheck"]["test"] == ["CMD", *image_check]
    assert "http://127.0.0.1:8000/readyz" in image_check[-1]
    command = [_defaults(word) for word in web["command"]]
    assert command[: len(image_cmd)] == image_cmd  # serve --host 0.0.0.0 --port 8000
    assert command[len(image_cmd) :] == ["--workers", "2"]
    assert re.search(r"server web:8000;", (DEPLOY / "compose" / "nginx.conf").read_text())


def test_nginx_mounts_the_shipped_locations(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["nginx"]["volumes"]
    assert "./nginx/fangxin-locations.conf:/etc/nginx/snippets/fangxin-locations.conf:ro" in (
        volumes
    )
    assert "./compose/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in volumes
    assert "web:/srv/fangxin-web:ro" in volumes
    static = compose["services"]["static"]
    assert static["volumes"] == ["web:/srv/fangxin-web"] and static["network_mode"] == "none"
    assert static["image"] == compose["services"]["web"]["image"]
    assert "environment" not in static and "secrets" not in static
    for volume in volumes:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).is_file(), source


def test_the_compose_nginx_server_redirects_and_serves_static_files(tmp_path: Path) -> None:
    """The compose server block with the shipped locations, under Debian's nginx: the app's
    place taken by a closed port, the static volume by a copy of the package's files."""
    chain, private = _certificate(tmp_path)
    http_port, https_port = free_port(), free_port()
    web = tmp_path / "fangxin-web"
    shutil.copytree(ROOT / "service" / "web" / "static", web / "static")
    conf = (DEPLOY / "compose" / "nginx.conf").read_text(encoding="utf-8")
    for old, new in (
        ("server web:8000;", f"server 127.0.0.1:{free_port()};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/run/secrets/tls_fullchain;", f"{chain};"),
        ("/run/secrets/tls_privkey;", f"{private};"),
        ("set $fangxin_web /srv/fangxin-web;", f"set $fangxin_web {web};"),
        ("include /etc/nginx/snippets/", "include snippets/"),
    ):
        assert conf.count(old) == 1, old
        conf = conf.replace(old, new)
    conf = "\n".join(line for line in conf.splitlines() if "[::]" not in line)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "compose.conf").write_text(conf, encoding="utf-8")
    trust = ssl.create_default_context(cafile=str(chain))
    with nginx(prefix, f"    include {prefix / 'compose.conf'};", [http_port, https_port]):
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/scores", headers={"host": "x.gov.cn"})
        with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=trust) as tls:
            favicon = tls.get("/static/favicon.svg")
            app = tls.get("/readyz")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://x.gov.cn/scores"
    assert favicon.status_code == 200
    assert favicon.content == (ROOT / "service" / "web" / "static" / "favicon.svg").read_bytes()
    assert favicon.headers["x-content-type-options"] == "nosniff"
    assert app.status_code == 502  # proxied to the (here absent) web service
