"""Versions of a work (audio_service.core.versions): deterministic plans that differ the way real versions do,
arrangements that apply them, rendering with a drum kit, and a held-out split by work."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from audio_service.core.catalog import DRUM_CHANNEL, render_midi_events
from audio_service.core.versions import (
    HIHAT,
    TEMPO_RANGE,
    TRANSPOSE_RANGE,
    VOICINGS,
    arrange,
    melody_index,
    plan_versions,
    split_works,
)

# A two-part work: a tune (C5 upwards, quarter notes at 120 bpm) over a held bass part (C3).
BEAT = 0.5
TUNE = [(i * BEAT, (i + 1) * BEAT, 72 + (0, 2, 4, 5, 7, 5, 4, 2)[i % 8]) for i in range(16)]
LOW = [(i * 2 * BEAT, (i + 1) * 2 * BEAT, 48) for i in range(8)]
PARTS = [LOW, TUNE]


def test_plans_are_deterministic_and_differ_like_real_versions() -> None:
    plans = plan_versions("bach/bwv1.6", n_parts=2, n=6, n_soundfonts=2)
    assert plans == plan_versions("bach/bwv1.6", n_parts=2, n=6, n_soundfonts=2)
    assert plans != plan_versions("bach/bwv2.6", n_parts=2, n=6, n_soundfonts=2)
    assert {p.voicing for p in plans[:3]} == set(VOICINGS)  # any three versions: every voicing
    assert len({p.transpose for p in plans}) == 6  # no key twice
    for p in plans:
        assert TRANSPOSE_RANGE[0] <= p.transpose <= TRANSPOSE_RANGE[1]
        assert TEMPO_RANGE[0] <= p.tempo <= TEMPO_RANGE[1]
        assert p.melody_octave in (-1, 0, 1) and p.soundfont in (0, 1) and len(p.programs) == 2
    assert len({p.programs for p in plans}) > 1 and [p.id for p in plans[:2]] == ["bach/bwv1.6~v0", "bach/bwv1.6~v1"]


def test_arrangements_apply_key_tempo_voicing_and_octave() -> None:
    assert melody_index(PARTS) == 1
    spec = plan_versions("w", n_parts=2, n=3)[0]
    for voicing in VOICINGS:
        v = spec.__class__(**{**spec.__dict__, "voicing": voicing, "transpose": 3, "tempo": 1.25, "melody_octave": -1})
        notes, programs, duration = arrange(PARTS, v, BEAT, 30.0)
        tune = [n for n in notes if n[4] == 0]
        # The melody first (channel 0): transposed +3, an octave down, 1.25 times faster.
        assert [n[2] for n in tune[:3]] == [72 + 3 - 12, 74 + 3 - 12, 76 + 3 - 12]
        assert np.isclose(tune[1][0], BEAT / 1.25) and duration <= 30.0
        channels = {n[4] for n in notes}
        if voicing == "melody":
            assert channels == {0}
        elif voicing == "melody+accompaniment":
            assert channels == {0, 1} and {n[2] for n in notes if n[4] == 1} == {48 + 3}  # other parts: key only
        else:
            assert DRUM_CHANNEL in channels and {HIHAT} <= {n[2] for n in notes if n[4] == DRUM_CHANNEL}
            bass = [n for n in notes if n[4] == 2]
            assert bass and all(28 <= n[2] <= 52 for n in bass) and programs[2] == v.bass_program
    cut, _, short = arrange(PARTS, spec, BEAT, 2.0)
    assert short <= 2.0 and all(n[0] < 2.0 and n[1] <= 2.0 for n in cut)


def test_a_band_version_renders_with_drums() -> None:
    spec = next(p for p in plan_versions("rendered", n_parts=2, n=3) if p.voicing == "band")
    notes, programs, duration = arrange(PARTS, spec, BEAT, 4.0)
    audio = render_midi_events(notes, programs, duration)
    drums_only = render_midi_events([n for n in notes if n[4] == DRUM_CHANNEL], programs, duration)
    assert audio.shape == (int(duration * 22050),) and np.isfinite(audio).all()
    assert float(np.sqrt(np.mean(drums_only**2))) > 0.01  # the kit sounds


def test_held_out_works_never_change_side() -> None:
    works = [f"work-{i}" for i in range(2000)]
    train, test = split_works(works, held_out=0.2)
    assert not set(train) & set(test) and len(train) + len(test) == 2000
    assert 0.17 < len(test) / 2000 < 0.23
    more_train, more_test = split_works(works + [f"new-{i}" for i in range(500)], held_out=0.2)
    assert set(test) <= set(more_test) and set(train) <= set(more_train)  # adding works moves nobody


def test_the_versioned_catalog_is_rendered_once_and_cached(tmp_path: Path) -> None:
    import soundfile as sf
    from audio_service.cli import main
    from audio_service.core.version_catalog import build_versions, load_versions

    out = tmp_path / "versions"
    first = build_versions(out, n_versions=3, limit=4, held_out=0.5, workers=1, progress=False)
    versions = load_versions(out)
    assert first["n_failed"] == 0 and first["n_works"] == 4 and len(versions) == 12
    by_work: dict[str, list[dict[str, object]]] = {}
    for v in versions:
        by_work.setdefault(str(v["work_id"]), []).append(v)
        audio, sr = sf.read(out / str(v["file"]))
        assert sr == 22050 and len(audio) >= 6 * sr and abs(len(audio) / sr - float(v["duration_s"])) < 0.1
    for work, vs in by_work.items():
        assert {v["voicing"] for v in vs} == set(VOICINGS) and len({v["transpose"] for v in vs}) == 3, work
        assert len({v["split"] for v in vs}) == 1  # all versions of a work on the same side
    assert {v["split"] for v in versions} == {"train", "held_out"}
    # Again: nothing is rendered, the same records come back (the CLI runs the same build).
    started = time.monotonic()
    assert main(["build-versions", "--out", str(out), "--limit", "4", "--held-out", "0.5", "--workers", "1"]) == 0
    assert time.monotonic() - started < 20 and load_versions(out) == versions
    # More versions: the first three are kept as they are (same records, files untouched), only the fourth is new.
    stamps = {str(v["id"]): (out / str(v["file"])).stat().st_mtime_ns for v in versions}
    more = build_versions(out, n_versions=4, limit=4, held_out=0.5, workers=1, progress=False)
    again = load_versions(out)
    assert more["n_versions"] == 16 and [v for v in again if int(v["index"]) < 3] == versions
    assert {str(v["id"]): (out / str(v["file"])).stat().st_mtime_ns for v in versions} == stamps
    fourth = [v for v in again if v["index"] == 3]
    assert len(fourth) == 4 and all(str(v["id"]).endswith("~v3") for v in fourth)


def test_version_metrics_and_the_key_invariant_chroma() -> None:
    from audio_service.core.version_eval import clip_topk, key_invariant_similarity, track_map

    works = np.array(["a", "a", "b", "b"])
    perfect = np.array([[1, 0.9, 0, 0], [0.9, 1, 0, 0], [0, 0, 1, 0.9], [0, 0, 0.9, 1]], float)
    assert track_map(perfect, works) == 1.0
    worst = 1.0 - perfect
    assert track_map(worst, works) == 1.0 / 3  # the one relevant item ranked last of three
    assert clip_topk(np.array([[0.2, 0.9], [0.8, 0.1]]), np.array(["a", "a"]), np.array(["a", "b"]), (1, 2)) == {
        "top1": 0.5,
        "top2": 1.0,
    }
    rng = np.random.default_rng(0)
    chroma = rng.random((5, 12))
    shifted = np.roll(chroma, 3, axis=1)  # the same songs transposed by 3 semitones
    sim = key_invariant_similarity(chroma, shifted)
    assert np.allclose(np.diag(sim), 1.0) and (sim.argmax(axis=1) == np.arange(5)).all()


def test_versions_are_evaluated_on_held_out_works(tmp_path: Path) -> None:
    from audio_service.core.version_catalog import build_versions
    from audio_service.core.version_eval import evaluate_versions

    out = tmp_path / "versions"
    build_versions(out, n_versions=3, limit=5, held_out=1.0, workers=1, progress=False)
    rms = {"rms": lambda y: np.array([np.sqrt(np.mean(y**2)), 1.0])}  # a representation that knows nothing
    result = evaluate_versions(out, embedders=rms, distractors={"chroma": np.eye(12)[:3]})
    assert set(result) == {"chroma", "rms"}
    for name, r in result.items():
        assert 0.0 <= r["map"] <= 1.0 and 0.0 <= r["top1"] <= r["top10"] <= 1.0, name
        assert r["n_works"] == 5 and r["n_versions"] == 15
    assert result["chroma"]["top10"] == 1.0  # 5 works + 3 distractors: every work is within the first ten
    from audio_service.cli import main

    report = tmp_path / "versions.json"
    assert main(["evaluate-versions", "--versions", str(out), "--json", str(report)]) == 0
    import json

    assert json.loads(report.read_text())["chroma"]["map"] == result["chroma"]["map"]
