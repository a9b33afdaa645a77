"""The compare view in a real Chromium against the real stack: a song's page leads to it, a version of the song
(its recording played 3 semitones higher and 10 % slower, made here with librosa: generated, not a real cover) is
uploaded, and the matched passages appear on the picture, on both timelines and in the list, each playable."""

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
