"""deploy/nginx/default.conf run by a real nginx in front of the real gateway on loopback.

Compose mounts this file into the official nginx image; here Debian's nginx (`make test` installs
nginx-light) loads the same file with three lines pointed at this machine: the upstream (the test
stack's gateway), the listening port and the frontend folder. ``nginx -t`` rejects what the image
would refuse to start with (a duplicate location did exactly that), and the requests below check what
the parsing tests in test_compose.py can only read: the API, recordings with Range, uploads, the
frontend with its headers, and /metrics kept internal.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway.db.models import Song
from gateway.db.session import make_engine, make_sessionmaker
from musicrec_tools.procs import free_port
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "deploy" / "nginx" / "default.conf"


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path is None:
        pytest.fail("no nginx binary: `make test` installs Debian's nginx-light")
    return path


def local_config(tmp: Path, gateway_port: int, port: int) -> Path:
    """The deploy config with the upstream, the port and the web root pointed at this machine."""
    site = CONF.read_text()
    replacements = (
        (r"server\s+gateway:\d+;", f"server 127.0.0.1:{gateway_port};"),
        (r"listen\s+\d+;", f"listen 127.0.0.1:{port};"),
        (r"root\s+/usr/share/nginx/html;", f"root {REPO / 'frontend'};"),
    )
    for pattern, value in replacements:
        site, n = re.subn(pattern, value, site)
        assert n == 1, f"{pattern} should occur once in {CONF}"
    (tmp / "default.conf").write_text(site)
    temp = {name: tmp / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    # The image's /etc/nginx/nginx.conf, reduced: everything in the tmp folder, in the foreground.
    main = f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp / "access.log"};
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    sendfile on;
    include {tmp / "default.conf"};
}}
"""
    (tmp / "nginx.conf").write_text(main)
    return tmp / "nginx.conf"


@pytest.fixture(scope="module")
def proxy(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    tmp = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = local_config(tmp, stack.ports["gateway"], port)
    binary = nginx_binary()
    check = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(tmp)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(tmp)], stderr=subprocess.PIPE, text=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.get("/index.html")
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else "nginx exited"
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.1)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)


def test_frontend_is_served_with_its_security_headers(proxy: httpx.Client) -> None:
    page = proxy.get("/")
    assert page.status_code == 200 and "<script" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    module = proxy.get("/js/main.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert "server" not in page.headers or "nginx/" not in page.headers["server"]  # server_tokens off
    assert proxy.get("/no-such-file.js").status_code == 404


def test_api_health_and_docs_go_to_the_gateway(proxy: httpx.Client) -> None:
    health = proxy.get("/api/health")
    assert health.status_code == 200 and "components" in health.json()
    assert proxy.get("/health").status_code == 200
    assert proxy.get("/openapi.json").json()["paths"]
    docs = proxy.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=["'](/static-offline-docs/[^"']+)""", docs.text)
    assert assets and all(proxy.get(a).status_code == 200 for a in assets)
    assert proxy.get("/redoc").status_code == 200
    # Prometheus counters stay inside the network: nginx has no route to them.
    assert proxy.get("/metrics").status_code == 404


def test_login_plays_and_errors_pass_through(stack: Any, proxy: httpx.Client) -> None:
    login = proxy.post("/api/auth/login", json={"username": "alice", "password": stack.env["DEMO_PASSWORD"]})
    assert login.status_code == 200, login.text
    proxy.cookies.clear()  # the bearer token only, so that the 401 below is about the missing token
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    recs = proxy.get("/api/me/recommendations", params={"mode": "cf", "n": 5}, headers=auth)
    assert recs.status_code == 200 and len(recs.json()["items"]) == 5
    bad = proxy.post("/api/me/plays", json={"song_id": "x"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"
    assert proxy.get("/api/me").status_code == 401


def test_recordings_stream_with_ranges_and_uploads_reach_the_audio_search(stack: Any, proxy: httpx.Client) -> None:
    engine = make_engine(stack.env["DATABASE_URL"])
    with make_sessionmaker(engine)() as db:
        song_id, audio_path = db.execute(
            select(Song.id, Song.audio_path).where(Song.audio_path.is_not(None)).limit(1)
        ).one()
    engine.dispose()
    full = proxy.get(f"/api/songs/{song_id}/audio")
    assert full.status_code == 200 and len(full.content) > 1000
    part = proxy.get(f"/api/songs/{song_id}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206, part.headers
    assert part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(full.content)}"
    beyond = proxy.get(f"/api/songs/{song_id}/audio", headers={"Range": f"bytes={len(full.content) + 10}-"})
    assert beyond.status_code == 416
    # The recording itself as an upload: through nginx to the gateway and audio_service, and found.
    found = proxy.post(
        "/api/audio/query", files={"file": (Path(audio_path).name, full.content, full.headers["content-type"])}
    )
    assert found.status_code == 200, found.text
    assert song_id in [item["song"]["id"] for item in found.json()["items"]]
    # A clip over nginx's own limit is refused by nginx before it reaches anyone.
    huge = proxy.post("/api/audio/query", files={"file": ("big.ogg", b"\0" * (22 * 2**20), "audio/ogg")})
    assert huge.status_code == 413
