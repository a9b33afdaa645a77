"""Similar melody in a real Chromium against the real stack.

The compare view: a song's page leads to it, a version of the song (its recording played 3 semitones higher and
10 % slower, made here with librosa: generated, not a real cover) is uploaded, and the matched passages appear on
the picture, on both timelines and in the list, each playable.

Query by humming: a hummed rendition of a catalog song's tune (synthesised with audio_service's synthetic voice:
formants, vibrato, drift, the singer's octave, a wrong tempo, breath noise; not a person) is uploaded in the
sound page's "Hum or sing" mode, and the song is among the matches.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def version_of(path: Path) -> bytes:
    import librosa

    y, sr = librosa.load(str(path), sr=22050, mono=True, duration=40.0)
    y = librosa.effects.pitch_shift(y, sr=sr, n_steps=3)
    y = librosa.effects.time_stretch(y, rate=0.9)
    buf = io.BytesIO()
    sf.write(buf, (0.9 * y / (np.abs(y).max() + 1e-9)).astype(np.float32), sr, format="WAV")
    return buf.getvalue()


def test_compare_a_song_with_its_version(stack: Any, browser: Any, screenshots: Path, console: Any) -> None:
    assert stack.song is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(30_000)
    page.goto(f"/#/song/{stack.song.id}")
    # Possible versions (the shipped version model; the index fills in the background after audio_service loads).
    section = page.locator("#possible-versions")
    for _ in range(30):
        section.wait_for()
        page.wait_for_function(
            "() => { const s = document.querySelector('#possible-versions');"
            " return s && !s.textContent.includes('Looking for'); }"
        )
        if "still being analysed" not in section.inner_text():
            break
        page.wait_for_timeout(2000)
        page.reload()
    text = section.inner_text()
    assert "No other recording plays this music" in text or section.locator(".version-row").count(), text
    page.locator("#compare-button").click()
    page.wait_for_url(f"**/#/compare?a={stack.song.id}")
    assert stack.song.title in page.locator("#compare-a").inner_text()

    page.locator("#compare-file").set_input_files(
        {"name": "my-version.wav", "mimeType": "audio/wav", "buffer": version_of(stack.fixture_audio)}
    )
    result = page.locator("#compare-result")
    page.locator("#compare-result, .compare-out .state-empty").first.wait_for(timeout=90_000)
    assert result.count() == 1, page.locator(".compare-out").inner_text()
    assert result.get_attribute("data-verdict") == "same music"
    verdict = page.locator(".verdict").inner_text()
    assert "3 semitones higher" in verdict and "slower" in verdict, verdict
    passages = page.locator("#compare-passages li")
    assert passages.count() >= 1
    assert page.locator(".timeline-seg").count() == 2 * passages.count()  # each passage on both timelines
    assert page.locator("canvas.compare-matrix").is_visible()
    page.screenshot(path=str(screenshots / "40-compare-version.png"), full_page=True)

    # Play song a from the first match: the player starts there.
    passages.first.get_by_role("button", name="Play a from").click()
    page.wait_for_function("() => { const a = document.querySelector('audio'); return a && a.currentTime > 0; }")
    assert console.unexpected() == []
    context.close()


def song_id_of(stack: Any, audio_id: str) -> int:
    from gateway.db.models import Song
    from gateway.db.session import make_engine
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    engine = make_engine(stack.db_url)
    try:
        with Session(engine) as db:
            return int(db.scalars(select(Song.id).where(Song.audio_id == audio_id)).one())
    finally:
        engine.dispose()


def test_hum_a_tune_and_find_its_song(stack: Any, browser: Any, screenshots: Path, console: Any) -> None:
    from audio_service.core.melody import HUM_SR, synth_hum

    with np.load(stack.var_dir / "audio" / "catalog" / "melodies.npz") as z:
        melodies = {k: z[k] for k in z.files}
    audio_id = max(melodies, key=lambda k: len(melodies[k]))
    y, _ = synth_hum(melodies[audio_id][:28], np.random.default_rng(7))
    buf = io.BytesIO()
    sf.write(buf, y, HUM_SR, format="WAV")
    wanted = song_id_of(stack, audio_id)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(30_000)
    page.goto("/#/sound")
    page.locator("#mode-hum").click()
    assert page.locator("#mode-hum").get_attribute("aria-checked") == "true"
    assert "Hum" in page.locator("#sound-intro").inner_text()
    page.locator("#sound-file").set_input_files(
        {"name": "my-humming.wav", "mimeType": "audio/wav", "buffer": buf.getvalue()}
    )
    page.locator(".match-list, .sound-results .state-empty, .sound-results .state-error").first.wait_for(timeout=90_000)
    found = page.locator(".match-list .match").evaluate_all("rows => rows.map(r => Number(r.dataset.songId))")
    assert wanted in found[:10], (wanted, found, page.locator(".sound-results").inner_text())
    page.screenshot(path=str(screenshots / "41-hum.png"), full_page=True)
    assert console.unexpected() == []
    context.close()
