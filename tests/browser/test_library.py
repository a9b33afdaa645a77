"""A listener's own music in a real Chromium: import a history, read the match report, open the library, play.

The music folder is generated for the test (labelled as such): Ogg Vorbis files made from a real CC-BY recording
(data/audio/fixtures), tagged with the names of real MSD songs that the uploaded Last.fm export also names, one
with an embedded cover. The folder is scanned with `scan-library` as `make run` does before the page is opened;
nothing is scanned from the page.
"""

from __future__ import annotations

import base64
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
from musicrec_tools.procs import python_module, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SONGS = [  # (artist, album, title) of real MSD songs (data/msd/songs.tsv)
    ("Kings Of Leon", "Only By The Night", "Revelry"),
    ("Florence + The Machine", "Lungs", "Dog Days Are Over (Radio Edit)"),
]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _write(path: Path, source: Path, seconds: float = 12.0) -> None:
    y, sr = sf.read(source, dtype="float32", always_2d=True)
    sf.write(path, y[: int(sr * seconds)], sr, format="OGG")


def _tag(path: Path, artist: str, album: str, title: str, track: int, with_cover: bool) -> None:
    import mutagen
    from mutagen.flac import Picture

    audio = mutagen.File(path)
    assert audio is not None
    audio["artist"], audio["album"], audio["title"], audio["tracknumber"] = artist, album, title, str(track)
    if with_cover:
        pic = Picture()
        pic.type, pic.mime, pic.data, pic.width, pic.height = 3, "image/png", PNG, 1, 1
        audio["metadata_block_picture"] = [base64.b64encode(pic.write()).decode("ascii")]
    audio.save()


@pytest.fixture
def music(stack: Any) -> Iterator[Path]:
    folder = Path(stack.env["MUSIC_DIR"])
    for n, (artist, album, title) in enumerate(SONGS):
        path = folder / artist / album / f"{n + 1:02d} {title}.ogg"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, stack.fixture_audio)
        _tag(path, artist, album, title, n + 1, with_cover=n == 0)
    # audio_service may be restarting (an earlier test stops it): its sound analysis must be there to answer.
    wait_http(stack.url("audio_service", "/health"), timeout=120, proc=stack.procs["audio_service"])
    deadline = time.monotonic() + 120
    while httpx.get(stack.url("audio_service", "/health"), timeout=10).json()["status"] != "ok":
        assert time.monotonic() < deadline, "audio_service has no model"
        time.sleep(1)
    scan = python_module("gateway", "scan-library", str(folder), "--analyse", "wait")
    done = subprocess.run(scan, env=stack.env, capture_output=True, text=True, check=True, timeout=300)
    assert "files queued" in done.stdout, done.stdout + done.stderr
    status = httpx.get(stack.url("audio_service", "/library/status"), timeout=10).json()
    assert status["queued"] == 0 and not status["running"], status
    time.sleep(6)  # the gateway re-reads the library's songs every 5 s
    yield folder
    for child in folder.iterdir():
        subprocess.run(["rm", "-rf", str(child)], check=True)
    subprocess.run([*scan[:-1], "no"], env=stack.env, capture_output=True, check=True, timeout=300)
    time.sleep(6)


def test_import_then_the_library_view_plays_a_library_song(
    stack: Any, music: Path, browser: Any, screenshots: Path, console: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    name = f"lib_{uuid.uuid4().hex[:6]}"
    assert context.request.post("/api/auth/register", data={"username": name, "password": "my library 1"}).status == 201
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(15_000)

    # 1. The history: a Last.fm export naming the two songs the folder holds, and one nobody knows.
    page.goto("/#/account")
    page.get_by_role("heading", name="Bring your listening history").wait_for()
    export = tmp_path / "scrobbles.csv"
    export.write_text(
        "".join(f"{a},{al},{t},31 Jan 2020 18:{20 + i}\n" for i, (a, al, t) in enumerate(SONGS))
        + "Nobody At All,Nowhere,No Such Song Anywhere,31 Jan 2020 18:30\n"
    )
    page.locator("#import-file").set_input_files(str(export))
    report = page.locator("#import-report")
    report.wait_for()
    values = dict(zip(report.locator("dt").all_inner_texts(), report.locator("dd").all_inner_texts(), strict=True))
    assert values["listens in the file"] == "3" and values["new plays added"] == "2", values
    page.screenshot(path=str(screenshots / "20-library-import-report.png"), full_page=True)

    # 2. The library: one album per folder, the cover embedded in the first file, every song playable.
    page.get_by_role("link", name="Library").first.click()
    page.get_by_role("heading", name="Your library").wait_for()
    album = page.get_by_role("region", name=f"{SONGS[0][1]} · {SONGS[0][0]}")
    album.wait_for()
    assert "2 songs" in page.locator(".page-head").inner_text()
    page.wait_for_function(
        "() => { const i = document.querySelector('img.album-cover'); return i && i.naturalWidth > 0; }"
    )
    page.screenshot(path=str(screenshots / "21-library.png"), full_page=True)
    album.get_by_role("button", name="Play album").click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 1", timeout=20_000)
    assert page.locator("#player .mp-title").inner_text() == SONGS[0][2]

    # 3. The search narrows the albums.
    page.locator("input[type=search]").fill("dog days")
    page.get_by_role("region", name=f"{SONGS[1][1]} · {SONGS[1][0]}").wait_for()
    page.wait_for_function("() => document.querySelectorAll('section.album').length === 1")

    # 4. Home offers the scope: your music (both songs are played already) or everything.
    page.goto("/#/home")
    page.get_by_role("button", name="Your music").wait_for()
    assert page.get_by_role("button", name="Your music").get_attribute("aria-pressed") == "true"
    page.get_by_role("button", name="Everything").click()
    # The fused row now carries both kinds of reasons: co-listening (the imported history) and sound (the
    # analysed files); "Why this song" names the song behind each, linked.
    row = page.locator("#recs-hybrid")
    row.locator(".card .badge-audio").first.wait_for(timeout=30_000)
    row.locator(".card .badge-cf").first.wait_for(timeout=30_000)
    for kind, named in (("cf", SONGS), ("audio", SONGS)):
        card = row.locator(".card", has=page.locator(f".badges .badge-{kind}")).first
        summary = card.locator("summary", has_text="Why this song")
        summary.focus()
        summary.press("Enter")  # from the keyboard
        link = card.locator(f".why-list li:has(.badge-{kind}) a").first
        link.wait_for()
        assert link.inner_text() in {t for _, _, t in named}, link.inner_text()
        assert link.get_attribute("href", timeout=5_000).startswith("#/song/")  # type: ignore[union-attr]
    page.screenshot(path=str(screenshots / "24-home-both-reasons.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "25-home.png"))  # the README's picture of the home page
    page.get_by_role("button", name="Your music").click()  # back to the default for the tests after this one
    assert console.unexpected() == []
    context.close()
