"""The versioned catalog: every work rendered as several versions (:mod:`audio_service.core.versions`).

``DIR/versions.json`` lists one record per version (its work, its split — ``train`` or ``held_out``, by work —
and how it differs: key, tempo, voicing, melody octave, instruments, SoundFont), beside ``DIR/audio/<work>~v<i>.ogg``.
Deterministic (the plans are drawn from the work ids) and cached: a version whose file and configuration hash
are already there is not rendered again, so an interrupted build continues where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from audio_service.core.catalog import (
    EXCERPT_S,
    MIN_DURATION_S,
    SR,
    Work,
    config_hash,
    list_works,
    parse_work,
    render_midi_events,
    soundfont_path,
    write_song,
)
from audio_service.core.versions import VOICINGS, arrange, plan_versions, split_works

VERSIONS_FORMAT = "1"
MAX_PARTS = 15


# Other General MIDI SoundFonts used when installed: Debian's fluid-soundfont-gm (FluidR3_GM, MIT licence), which
# `make install-dev` installs for the tests and the evaluation. Nothing at run time needs them.
EXTRA_SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),)


def default_soundfonts() -> list[Path]:
    """The General MIDI SoundFonts versions are drawn from: TimGM6mb.sf2 (shipped in the pretty_midi wheel) and
    each of :data:`EXTRA_SOUNDFONTS` that is installed."""
    return [soundfont_path(), *(p for p in EXTRA_SOUNDFONTS if p.is_file())]


def versions_hash(soundfonts: list[Path]) -> str:
    """What a rendered version depends on besides its work. Not the number of versions asked for: version ``i``
    is drawn after versions ``0..i-1`` (:func:`plan_versions`), the same whatever comes after it, so asking for
    more versions renders only the new ones."""
    text = json.dumps([VERSIONS_FORMAT, config_hash(), VOICINGS, [(p.name, p.stat().st_size) for p in soundfonts]])
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def render_versions(
    work: Work, out_dir: Path, n_versions: int, soundfonts: list[Path], cfg: str, split: str
) -> list[dict[str, Any]]:
    """Every version of one work not rendered yet (a cached one is read back); ``[{"error": ...}]`` when the
    score cannot be read."""
    records: list[dict[str, Any]] = []
    pending = []
    for spec_index in range(n_versions):
        sidecar = out_dir / "audio" / f"{work.id}~v{spec_index}.json"
        if sidecar.exists():
            old = json.loads(sidecar.read_text())
            if old.get("config_hash") == cfg and (out_dir / old["file"]).exists():
                records.append(old)
                continue
        pending.append(spec_index)
    if not pending:
        return records
    try:
        _, parts, bpm = parse_work(work)
    except Exception as exc:  # music21 raises many kinds; any failure = skip and count
        return [{"error": f"{type(exc).__name__}: {exc}"[:200], "id": work.id}]
    parts = [p for p in parts if p][:MAX_PARTS]
    if not parts:
        return [{"error": "no notes", "id": work.id}]
    specs = plan_versions(work.id, n_parts=len(parts), n=n_versions, n_soundfonts=len(soundfonts))
    for spec in (specs[i] for i in pending):
        notes, programs, duration = arrange(parts, spec, 60.0 / bpm, EXCERPT_S)
        if duration < MIN_DURATION_S:
            records.append({"error": f"version {spec.index} too short ({duration:.1f} s)", "id": spec.id})
            continue
        audio = render_midi_events(notes, programs, duration, soundfonts[spec.soundfont])
        rel = f"audio/{spec.id}.ogg"
        record = {
            "id": spec.id,
            "work_id": work.id,
            "collection": work.collection,
            "index": spec.index,
            "split": split,
            "transpose": spec.transpose,
            "tempo": spec.tempo,
            "voicing": spec.voicing,
            "melody_octave": spec.melody_octave,
            "programs": list(spec.programs),
            "soundfont": soundfonts[spec.soundfont].name,
            "bpm": round(bpm * spec.tempo, 2),
            "duration_s": round(duration, 3),
            "file": rel,
            "config_hash": cfg,
        }
        write_song(out_dir, rel, audio, record)
        records.append(record)
    return records


def _job(args: tuple[Work, str, int, list[str], str, str]) -> list[dict[str, Any]]:
    work, out_dir, n, fonts, cfg, split = args
    return render_versions(work, Path(out_dir), n, [Path(f) for f in fonts], cfg, split)


def load_versions(out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    path = Path(out_dir) / "versions.json"
    return list(json.loads(path.read_text())["versions"]) if path.exists() else []


def build_versions(
    out_dir: str | os.PathLike[str],
    *,
    n_versions: int = 3,
    limit: int | None = None,
    collections: list[str] | None = None,
    soundfonts: list[Path] | None = None,
    held_out: float = 0.2,
    workers: int = 2,
    progress: bool = True,
) -> dict[str, Any]:
    """Render (or reuse) ``n_versions`` versions of every work; write ``versions.json``; a summary."""
    from musicrec_common.progress import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fonts = soundfonts or default_soundfonts()
    cfg = versions_hash(fonts)
    works = list_works(limit, collections)
    _, test = split_works([w.id for w in works], held_out)
    held = set(test)
    jobs = [
        (w, str(out), n_versions, [str(f) for f in fonts], cfg, "held_out" if w.id in held else "train") for w in works
    ]
    start = time.perf_counter()
    results: Iterable[list[dict[str, Any]]]
    pool = None
    if workers > 1 and len(jobs) > 1:
        pool = get_context("fork").Pool(workers, maxtasksperchild=50)  # music21 caches grow; recycle workers
        results = pool.imap(_job, jobs, chunksize=1)
    else:
        results = map(_job, jobs)
    versions: list[dict[str, Any]] = []
    failures: dict[str, str] = {}
    try:
        for records in tqdm(results, total=len(jobs), desc="versions", disable=not progress, unit="work"):
            for record in records:
                if "error" in record:
                    failures[record["id"]] = record["error"]
                else:
                    versions.append(record)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    summary = {
        "n_works": len({v["work_id"] for v in versions}),
        "n_versions": len(versions),
        "n_held_out_works": len({v["work_id"] for v in versions if v["split"] == "held_out"}),
        "n_failed": len(failures),
        "failures": failures,
        "seconds": round(time.perf_counter() - start, 2),
        "config_hash": cfg,
        "soundfonts": [f.name for f in fonts],
    }
    payload = {
        "format": VERSIONS_FORMAT,
        "config_hash": cfg,
        "sample_rate": SR,
        "versions": versions,
        "summary": summary,
    }
    tmp = out / "versions.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, out / "versions.json")
    return summary
