"""docker-compose.yml: `docker compose config` accepts it only with every secret set, and the resolved
configuration has health checks, start-up ordering, named volumes and least-privilege secrets."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from .conftest import COMPOSE_FILE, ONE_SHOTS, REPO, SECRETS, SERVICE_IMAGES, run_compose

EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "init",
    "cf_service",
    "audio_service",
    "gateway",
    "init-audio",
    "nginx",
    "retrain",
}

# Start-up order: one-shots must have *completed*, long-running services must be *healthy*.
EXPECTED_DEPENDS_ON = {
    "postgres": {},
    "redis": {},
    "init": {"postgres": "service_healthy", "redis": "service_healthy"},
    "cf_service": {"init": "service_completed_successfully"},
    "audio_service": {},
    "gateway": {
        "init": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "cf_service": "service_healthy",
        "audio_service": "service_healthy",
    },
    "init-audio": {"init": "service_completed_successfully", "audio_service": "service_healthy"},
    "nginx": {"gateway": "service_healthy"},
    "retrain": {"postgres": "service_healthy", "redis": "service_healthy", "cf_service": "service_healthy"},
}

# Which secret each service receives (least privilege: the model services only their admin token, no database).
EXPECTED_SECRETS = {
    "postgres": {"POSTGRES_PASSWORD"},
    "redis": set(),
    "init": {"POSTGRES_PASSWORD", "ADMIN_PASSWORD", "CREDENTIALS_SECRET", "DEMO_PASSWORD"},
    "cf_service": {"CF_ADMIN_TOKEN"},
    "audio_service": {"AUDIO_ADMIN_TOKEN"},
    "gateway": {"POSTGRES_PASSWORD", "ADMIN_PASSWORD", "CREDENTIALS_SECRET", "AUDIO_ADMIN_TOKEN"},
    "init-audio": {"POSTGRES_PASSWORD", "ADMIN_PASSWORD", "CREDENTIALS_SECRET", "AUDIO_ADMIN_TOKEN"},
    "nginx": set(),
    "retrain": {"POSTGRES_PASSWORD", "ADMIN_PASSWORD", "CREDENTIALS_SECRET", "CF_ADMIN_TOKEN"},
}

MUSIC_READERS = {"init", "audio_service", "gateway"}

# (volume, mount path, read-only) per service; bind mounts only for nginx's read-only files.
EXPECTED_VOLUMES = {
    "postgres": {("db", "/var/lib/postgresql/data", False)},
    "init": {("state", "/var/lib/musicrec", False), ("models", "/var/lib/musicrec/cf_models", False)},
    "cf_service": {("models", "/var/lib/musicrec/cf_models", True)},
    "audio_service": {("audio", "/var/lib/musicrec/audio", False)},
    "gateway": {("audio", "/var/lib/musicrec/audio", True)},
    "init-audio": {("state", "/var/lib/musicrec", False), ("audio", "/var/lib/musicrec/audio", False)},
    "retrain": {("state", "/var/lib/musicrec", False), ("models", "/var/lib/musicrec/cf_models", False)},
}


def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = config["services"]
    assert isinstance(result, dict)
    return result


def depends_on(svc: dict[str, Any]) -> dict[str, str]:
    raw = svc.get("depends_on") or {}
    if isinstance(raw, list):  # short syntax means service_started
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def environment(svc: dict[str, Any]) -> dict[str, str]:
    raw = svc.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.partition("=")[::2] for item in raw)
    return {k: "" if v is None else str(v) for k, v in raw.items()}


def mounts(svc: dict[str, Any]) -> set[tuple[str, str, str, bool]]:
    """(type, source, target, read_only) for both the short syntax (1.29) and the long one (v2)."""
    out = set()
    for item in svc.get("volumes") or []:
        if isinstance(item, str):
            parts = item.split(":")
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            out.add((kind, source, target, len(parts) > 2 and "ro" in parts[2].split(",")))
        else:
            out.add((item["type"], item["source"], item["target"], bool(item.get("read_only"))))
    return out


def test_config_passes_with_every_secret_set(compose_config: dict[str, Any]) -> None:
    assert set(services(compose_config)) == EXPECTED_SERVICES
    gateway_env = environment(services(compose_config)["gateway"])
    # The secrets really are interpolated into the resolved configuration.
    assert f":{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/" in gateway_env["DATABASE_URL"]
    assert gateway_env["ADMIN_PASSWORD"] == SECRETS["ADMIN_PASSWORD"]


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_config_fails_naming_a_missing_secret(missing: str, tmp_path: Path) -> None:
    secrets = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_compose(["config"], secrets, tmp_path)
    assert result.returncode != 0, f"compose config passed without {missing}"
    assert missing in result.stderr + result.stdout


def test_every_secret_is_required_not_defaulted() -> None:
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") for use in uses), f"{name} has a default or an optional use: {uses}"


def test_long_running_services_have_health_checks(compose_config: dict[str, Any]) -> None:
    for name, svc in services(compose_config).items():
        if name in ONE_SHOTS:
            assert svc.get("restart") == "no", f"{name} is a one-shot: it must not be restarted"
            continue
        check = svc.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert svc.get("restart") == "unless-stopped", name


def test_depends_on_conditions(compose_config: dict[str, Any]) -> None:
    svcs = services(compose_config)
    assert {name: depends_on(svc) for name, svc in svcs.items()} == EXPECTED_DEPENDS_ON
    # The rule behind the table: wait for one-shots to succeed and for the others to be healthy.
    for name, svc in svcs.items():
        for dep, condition in depends_on(svc).items():
            expected = "service_completed_successfully" if dep in ONE_SHOTS else "service_healthy"
            assert condition == expected, f"{name} -> {dep}: {condition}"
            if dep not in ONE_SHOTS:
                assert svcs[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, it has no check"


def test_named_volumes_for_database_models_and_audio(compose_config: dict[str, Any]) -> None:
    assert {"db", "models", "audio", "state"} <= set(compose_config.get("volumes") or {})
    for name, svc in services(compose_config).items():
        found = mounts(svc)
        volumes = {(src, dst, ro) for kind, src, dst, ro in found if kind == "volume"}
        binds = {(src, dst, ro) for kind, src, dst, ro in found if kind == "bind"}
        assert volumes == EXPECTED_VOLUMES.get(name, set()), name
        if name == "nginx":
            assert {dst for _, dst, _ in binds} == {"/usr/share/nginx/html", "/etc/nginx/conf.d/default.conf"}
            assert all(ro for *_, ro in binds)
            assert {Path(src).resolve() for src, _, _ in binds} == {
                (REPO / "frontend").resolve(),
                (REPO / "deploy" / "nginx" / "default.conf").resolve(),
            }
        elif name in MUSIC_READERS:
            # The user's music folder, read only, at the same path everywhere (audio_service reads the paths
            # the gateway's scan stored).
            assert {(dst, ro) for _, dst, ro in binds} == {("/music", True)}, name
            assert environment(svc).get("MUSIC_DIR") == "/music", name
        else:
            assert binds == set(), f"{name} bind-mounts {binds}"


def test_secrets_reach_only_the_services_that_need_them(compose_config: dict[str, Any]) -> None:
    got = {
        name: {secret for secret, value in SECRETS.items() if any(value in v for v in environment(svc).values())}
        for name, svc in services(compose_config).items()
    }
    assert got == EXPECTED_SECRETS


def test_images_are_built_from_their_dockerfiles(compose_config: dict[str, Any]) -> None:
    svcs = services(compose_config)
    for name, (dockerfile, _package) in SERVICE_IMAGES.items():
        svc = svcs[name]
        context = Path(svc["build"]["context"]).resolve()
        assert context == REPO
        # (compose v2 may print the Dockerfile path absolute, 1.29 keeps it relative to the context)
        assert (context / svc["build"]["dockerfile"]).resolve() == REPO / "deploy" / "docker" / dockerfile
        assert svc["image"].startswith("musicrec/") and svc.get("pull_policy") == "build", name
    # Only what we build is named musicrec/*; the rest are pinned official images.
    for name in set(svcs) - set(SERVICE_IMAGES):
        assert "build" not in svcs[name] and re.fullmatch(r"(postgres|redis|nginx):[\w.-]+", svcs[name]["image"])


def test_one_shots_run_a_real_init_phase(compose_config: dict[str, Any], init_script: Any) -> None:
    phases = {"init": "core", "init-audio": "audio", "retrain": "retrain"}
    parser = init_script.build_parser()
    for name, phase in phases.items():
        command = services(compose_config)[name]["command"]
        assert command[:2] == ["python", "/app/musicrec_init.py"]
        assert parser.parse_args(command[2:]).phase == phase
    assert services(compose_config)["retrain"].get("profiles") == ["tools"]


def test_service_urls_ports_and_health_checks_agree(compose_config: dict[str, Any]) -> None:
    svcs = services(compose_config)
    gateway = environment(svcs["gateway"])
    ports = {
        "cf_service": int(environment(svcs["cf_service"])["CF_PORT"]),
        "audio_service": int(environment(svcs["audio_service"])["AUDIO_PORT"]),
        "gateway": int(gateway["GATEWAY_PORT"]),
    }
    for var, target in (("CF_SERVICE_URL", "cf_service"), ("AUDIO_SERVICE_URL", "audio_service")):
        url = urllib.parse.urlsplit(gateway[var])
        assert (url.hostname, url.port) == (target, ports[target])
    assert environment(svcs["init-audio"])["AUDIO_RELOAD_URL"] == f"http://audio_service:{ports['audio_service']}"
    assert environment(svcs["retrain"])["CF_RELOAD_URL"] == f"http://cf_service:{ports['cf_service']}"
    for name, port in ports.items():
        assert f"127.0.0.1:{port}/health" in " ".join(svcs[name]["healthcheck"]["test"]), name
    assert gateway["REDIS_URL"].startswith("redis://redis:6379/")
    assert gateway["SERVE_FRONTEND"] == "false"  # nginx serves frontend/
    assert all(environment(svcs[n])["APP_MODE"] == "production" for n in ("gateway", "cf_service", "audio_service"))


def nginx_conf() -> str:
    return (REPO / "deploy" / "nginx" / "default.conf").read_text()


def nginx_locations(conf: str) -> dict[str, str]:
    """location selector -> body (the config has no nested blocks inside locations)."""
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", conf)}


def test_nginx_serves_the_frontend_and_proxies_the_api_to_the_gateway(compose_config: dict[str, Any]) -> None:
    conf = nginx_conf()
    gateway_port = environment(services(compose_config)["gateway"])["GATEWAY_PORT"]
    assert re.search(rf"server\s+gateway:{gateway_port};", conf)
    published = services(compose_config)["nginx"]["ports"][0]
    container_port = published["target"] if isinstance(published, dict) else str(published).rsplit(":", 1)[-1]
    assert re.search(rf"listen\s+{container_port};", conf)
    assert "root /usr/share/nginx/html;" in conf
    locations = nginx_locations(conf)
    assert "proxy_pass http://gateway;" in locations["/api/"]
    # Every path the web page calls is under /api/ (frontend/js/api.js builds them all).
    api_js = (REPO / "frontend" / "js" / "api.js").read_text()
    paths = re.findall(r"""api\(\s*[`"'](/[^`"'$?]*)""", api_js)
    assert paths and all(p.startswith("/api/") for p in paths), paths
    for exact in ("= /health", "= /openapi.json"):
        assert "proxy_pass http://gateway;" in locations[exact]
    assert not any("metrics" in selector for selector in locations)  # Prometheus counters stay internal


def test_nginx_passes_audio_ranges_and_client_addresses_through() -> None:
    conf = nginx_conf()
    regexes = {sel.split(None, 1)[1]: body for sel, body in nginx_locations(conf).items() if sel.startswith("~ ")}
    (pattern,) = [p for p in regexes if re.match(p, "/api/songs/123/audio")]
    assert not re.match(pattern, "/api/songs/123/similar")
    audio = regexes[pattern]
    assert "proxy_pass http://gateway;" in audio and "proxy_buffering off;" in audio
    # A proxy_set_header inside the location would silently drop every server-level one (nginx inheritance);
    # Range and If-Range reach the gateway because nginx forwards client headers by default.
    assert "proxy_set_header" not in audio and "proxy_force_ranges" not in conf
    assert "proxy_pass_request_headers off" not in conf
    # The client address: set (not appended, so it cannot be forged) and trusted by the gateway.
    assert re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$remote_addr;", conf)
    # Uploads: nginx must accept what the gateway accepts (MAX_UPLOAD_MB, 20 MB by default).
    from gateway.app.settings import Settings

    limit = re.search(r"client_max_body_size\s+(\d+)m;", conf)
    assert limit and int(limit.group(1)) >= Settings.model_fields["max_upload_mb"].default


def test_gateway_trusts_forwarded_addresses_from_the_compose_network_only(compose_config: dict[str, Any]) -> None:
    import ipaddress

    trusted = environment(services(compose_config)["gateway"])["FORWARDED_ALLOW_IPS"]
    assert trusted != "*"
    networks = [ipaddress.ip_network(n) for n in trusted.split(",")]
    assert all(net.is_private for net in networks)
    assert any(ipaddress.ip_address("172.18.0.5") in net for net in networks)  # a compose bridge address
