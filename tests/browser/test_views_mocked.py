"""The views that show recommender output, fed with fixed API answers (Playwright request routing), so
their rendering is checked whatever models the local services have: reasons and badges, the map's canvas,
tooltip and click-to-play, sound-search segments that play from the matched offset, and the radio queue.
The audio itself still streams from the real gateway.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def fulfil(route: Any, body: dict[str, Any], status: int = 200) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def msd_song(i: int) -> dict[str, Any]:
    return {
        "id": 10_000 + i,
        "title": f"Mock song {i}",
        "artist": f"Mock artist {i % 3}",
        "release": None,
        "year": 2001,
        "duration_s": 200.0,
        "genre": None,
        "source": "msd",
        "collection": None,
        "msd_song_id": f"SOMOCK{i:04d}",
        "has_audio": False,
        "audio_url": None,
    }


@pytest.fixture
def logged_in(stack: Any, browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=stack.base_url)
    resp = context.request.post(
        "/api/auth/register", data={"username": f"mock_{uuid.uuid4().hex[:6]}", "password": "a long password"}
    )
    assert resp.status == 201, resp.text()
    yield context
    context.close()


def catalog_song(context: Any, song_id: int) -> dict[str, Any]:
    resp = context.request.get(f"/api/songs/{song_id}")
    assert resp.ok
    body = resp.json()
    return {k: body[k] for k in msd_song(0)} | {"id": body["id"]}


def test_recommendations_show_reasons_and_degraded_notes(
    stack: Any, logged_in: Any, screenshots: Path, console: Any
) -> None:
    song = catalog_song(logged_in, stack.song.id)
    items = [
        {"song": song, "score": 0.93, "reasons": ["Sounds like Vibe Ace, which you played"], "sources": {"audio": 1}},
        *[
            {
                "song": msd_song(i),
                "score": 0.8 - i / 100,
                "reasons": [f"Listeners of Mock song {i + 1} also play it"],
                "sources": {"cf": i + 1, "audio": i + 3},
            }
            for i in range(6)
        ],
    ]
    page = logged_in.new_page()
    console.attach(page)
    page.route(
        re.compile(r"/api/me/recommendations\?"),
        lambda route: fulfil(
            route,
            {
                "mode": "hybrid",
                "items": items,
                "degraded": ["cf", "cache"] if "mode=cf" in route.request.url else [],
                "fallback": None,
            },
        ),
    )
    page.goto("/#/home")
    section = page.locator("#recs-hybrid")
    section.locator(".card").nth(6).wait_for(timeout=15_000)  # rendered in one go, but wait on a busy machine
    assert section.locator(".card").count() == 7
    assert section.locator(".reasons li").first.inner_text() == "Sounds like Vibe Ace, which you played"
    assert section.locator(".badge-cf").count() == 6 and section.locator(".badge-audio").count() == 7
    assert "listener-based picks are unavailable" in page.locator("#recs-cf .section-note").inner_text()
    page.locator("#banner", has_text="Results are limited").wait_for()
    # the one card with a recording plays in the mini-player
    section.locator(".card").first.hover()
    section.get_by_role("button", name="Play Vibe Ace by Kevin MacLeod").click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3", timeout=20_000)
    page.screenshot(path=str(screenshots / "20-mock-recommendations.png"))
    assert console.unexpected() == []


def test_map_draws_points_tooltip_and_click_plays(stack: Any, logged_in: Any, screenshots: Path) -> None:
    points = [{"song_id": stack.song.id, "x": 0.0, "y": 0.0, "collection": "fixtures", "title": "Vibe Ace"}]
    collections = ["fixtures", "Musopen strings", "Field recordings"]
    for i in range(1, 240):
        c = collections[i % 3]
        points.append(
            {
                "song_id": 20_000 + i,
                "x": (i % 20) / 2 + (i % 3) * 3,
                "y": (i // 20) / 1.5 - (i % 3) * 2,
                "collection": c,
                "title": f"Point {i}",
            }
        )
    page = logged_in.new_page()
    page.route("**/api/catalog/map", lambda route: fulfil(route, {"points": points, "collections": collections}))
    page.goto("/#/map")
    canvas = page.locator("#map-canvas")
    canvas.wait_for(timeout=15_000)
    assert page.locator(".legend-item").count() == 3
    box = canvas.bounding_box()
    w, h = box["width"], box["height"]
    xs = [p["x"] for p in points]
    ys = [p["y"] for p in points]
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    scale = min((w - 36) / span_x, (h - 36) / span_y)
    off_x, off_y = (w - scale * span_x) / 2, (h - scale * span_y) / 2
    x = box["x"] + off_x + (0.0 - min(xs)) * scale
    y = box["y"] + h - (off_y + (0.0 - min(ys)) * scale)
    page.mouse.move(x, y)
    tooltip = page.locator(".map-tooltip")
    tooltip.wait_for(state="visible")
    assert "Vibe Ace" in tooltip.inner_text()
    page.screenshot(path=str(screenshots / "21-mock-map.png"))
    page.mouse.click(x, y)
    page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3", timeout=20_000)
    assert page.locator("#player .mp-title").inner_text() == "Vibe Ace"
    # keyboard: focus the canvas, arrows move the selection, the tooltip follows
    canvas.focus()
    page.keyboard.press("ArrowRight")
    assert tooltip.is_visible()
    # hiding a collection in the legend
    legend = page.locator(".legend-item").nth(1)
    legend.click()
    assert legend.get_attribute("aria-pressed") == "false"


def test_sound_matches_play_from_the_matched_segment(stack: Any, logged_in: Any, screenshots: Path) -> None:
    song = catalog_song(logged_in, stack.song.id)
    body = {
        "items": [
            {
                "song": song,
                "score": 0.91,
                "segments": [{"query_start": 5, "query_end": 10, "song_start": 42, "song_end": 47, "score": 0.88}],
            },
            {"song": msd_song(1), "score": 0.42, "segments": []},
        ],
        "degraded": [],
    }
    page = logged_in.new_page()
    page.route("**/api/audio/query", lambda route: fulfil(route, body))
    page.goto("/#/sound")
    page.locator("#sound-file").set_input_files(str(stack.fixture_audio))
    segment = page.locator(".segment").first
    segment.wait_for(timeout=15_000)
    assert "your clip 0:05–0:10 ≈ 0:42–0:47" in segment.inner_text()
    assert page.locator(".similarity-value").first.inner_text() == "91% similar"
    assert page.locator(".match").count() == 2
    page.screenshot(path=str(screenshots / "22-mock-sound.png"), full_page=True)
    segment.click()
    page.wait_for_function("() => document.getElementById('audio').currentTime >= 42", timeout=20_000)


def test_sound_search_error_is_explained(stack: Any, logged_in: Any) -> None:
    page = logged_in.new_page()
    page.route(
        "**/api/audio/query",
        lambda route: fulfil(
            route, {"error": {"code": "bad_audio", "message": "not an audio file", "details": None}}, 422
        ),
    )
    page.goto("/#/sound")
    page.locator("#sound-file").set_input_files({"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"})
    page.get_by_text("We could not read this audio").wait_for(timeout=15_000)


def test_sound_search_limit_says_when_to_try_again(stack: Any, logged_in: Any) -> None:
    page = logged_in.new_page()
    error = {"error": {"code": "rate_limited", "message": "too many", "details": {"retry_after_s": 41}}}
    page.route(
        "**/api/audio/query",
        lambda route: route.fulfill(
            status=429, content_type="application/json", headers={"Retry-After": "41"}, body=json.dumps(error)
        ),
    )
    page.goto("/#/sound")
    page.locator("#sound-file").set_input_files(str(stack.fixture_audio))
    page.get_by_text("Too many sound searches from your address. Try again in 41 s.").wait_for(timeout=15_000)


def test_radio_queues_the_songs_with_recordings(stack: Any, logged_in: Any) -> None:
    song = catalog_song(logged_in, stack.song.id)
    body = {
        "seed": song,
        "items": [{"song": msd_song(i), "score": 0.5, "reasons": [], "sources": {"cf": i}} for i in range(24)]
        + [{"song": song, "score": 0.4, "reasons": [], "sources": {}}],
        "degraded": [],
    }
    page = logged_in.new_page()
    page.route("**/api/songs/*/radio", lambda route: fulfil(route, body))
    page.goto(f"/#/song/{stack.song.id}")
    page.get_by_role("button", name="Start radio").click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3", timeout=20_000)
    assert page.locator("#player .mp-context").inner_text() == "Radio: Vibe Ace"
    page.locator("#player").get_by_role("button", name="Queue").click()
    assert page.locator(".mp-queue-item").count() == 1  # only songs with a recording are queued
