"""Mixes that listen back, in a real Chromium against the real stack: skip a song in the player, keep its artist
out with "Never play", open the daily mix, build a path between two songs and see it on the map, save the path
as a playlist and export it (M3U and JSPF)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_skip_exclude_daily_mix_path_playlist(stack: Any, browser: Any, screenshots: Path, console: Any) -> None:
    assert stack.song is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    assert context.request.post("/api/auth/register", data={"username": "mixer", "password": "mixes-and-paths-1"}).ok
    for song in context.request.get("/api/songs/search", params={"q": "love"}).json()["items"][:3]:
        assert context.request.post("/api/me/plays", data={"song_id": song["id"]}).status == 201
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(30_000)

    # --- skip: start the song's radio, leave the song after a moment with "Next" ----------------------------
    page.goto(f"/#/song/{stack.song.id}")
    page.get_by_role("heading", level=1, name=stack.song.title).wait_for()
    page.locator("#radio-button").click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 0.5", timeout=20_000)
    assert page.locator("#player .mp-title").inner_text() == stack.song.title
    with page.expect_response(lambda r: r.url.endswith("/api/me/plays") and r.request.method == "POST") as left:
        page.locator("#player").get_by_role("button", name="Next").click()
    sent = json.loads(left.value.request.post_data or "{}")
    assert sent["song_id"] == stack.song.id and sent["skipped"] is True and 0 < sent["played_ms"] < 30_000
    assert left.value.json()["recorded"] == "skip"
    page.locator("#player").get_by_role("button", name="Pause").click()

    # --- exclude its artist from the song's page ---------------------------------------------------------------
    page.goto(f"/#/song/{stack.song.id}")
    page.locator("#exclude-choice").select_option(label=f"the artist {stack.song.artist}")
    page.locator("#exclude-button").click()
    page.get_by_text(re.compile(f"the artist {re.escape(stack.song.artist)} stays out")).wait_for()
    rules = context.request.get("/api/me/exclusions").json()["rules"]
    assert [(r["kind"], r["value"]) for r in rules] == [("artist", stack.song.artist)]

    # --- the daily mix ----------------------------------------------------------------------------------------
    page.goto("/#/mixes")
    mix = page.locator("#mix-daily")
    mix.wait_for(timeout=60_000)
    rows = mix.locator(".song-list > li")
    assert rows.count() == 50
    assert stack.song.artist not in mix.inner_text()
    shot = screenshots / "50-daily-mix.png"
    page.screenshot(path=str(shot), full_page=False)

    # --- a path between two catalog songs, drawn on the map ------------------------------------------------
    points = context.request.get("/api/catalog/map").json()["points"]
    first, last = points[0], points[-1]
    for box, title in (("#path-from", first["title"]), ("#path-to", last["title"])):
        page.locator(box).fill(title)
        page.locator(f"{box}-results .picker-item", has_text=title).first.click()
    page.locator("#path-go").click()
    path = page.locator("#song-path")
    path.wait_for()
    n = path.locator(".song-list > li").count()
    assert 3 <= n <= 10
    page.screenshot(path=str(screenshots / "51-song-path.png"), full_page=True)
    page.locator("#path-map-link").click()
    page.wait_for_url(re.compile(r"#/map\?path="))
    caption = page.locator("#map-path-caption")
    caption.wait_for()
    assert caption.inner_text().startswith(f"The path: {n} songs")
    page.screenshot(path=str(screenshots / "52-path-on-map.png"), full_page=False)
    page.go_back()

    # --- save the path as a playlist, export it ----------------------------------------------------------------
    page.locator("#song-path").wait_for()
    page.once("dialog", lambda dialog: dialog.accept("My path"))
    page.locator("#song-path-save").click()
    page.wait_for_url(re.compile(r"#/playlists/\d+$"))
    assert page.locator("#playlist-name").inner_text() == "My path"
    saved = page.locator("#playlist-songs > li")
    assert saved.count() == n
    with page.expect_download() as jspf:
        page.locator("#export-jspf").click()
    doc = json.loads(Path(jspf.value.path()).read_text())
    assert doc["playlist"]["title"] == "My path" and len(doc["playlist"]["track"]) == n
    assert doc["playlist"]["track"][0]["title"] == first["title"]
    with page.expect_download() as m3u:
        page.locator("#export-m3u").click()
    lines = Path(m3u.value.path()).read_text().splitlines()
    assert lines[0] == "#EXTM3U" and sum(1 for x in lines if x.startswith("#EXTINF")) == n
    assert any(x.startswith("http") and "/api/songs/" in x and x.endswith("/audio") for x in lines)
    page.screenshot(path=str(screenshots / "53-playlist.png"), full_page=True)
    assert console.unexpected() == []
    context.close()
