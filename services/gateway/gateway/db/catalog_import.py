"""Import audio_service's rendered catalog (``catalog.json``) as ``catalog`` songs, idempotently."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from gateway.db.models import Song, SongSource

COLLECTION_NAMES = {
    "bach": "Bach chorales",
    "palestrina": "Palestrina",
    "ryans_mammoth": "Ryan's Mammoth Collection",
    "essen_folksong": "Essen folk songs",
    "oneills_1850": "O'Neill's Music of Ireland",
    "trecento": "Trecento",
    "monteverdi": "Monteverdi madrigals",
    "classical": "Classical (Beethoven, Mozart, Haydn)",
}


def _title(raw: str) -> str:
    """``bwv1.6.mxl`` -> ``BWV 1.6``; keeps real titles as they are."""
    stem = re.sub(r"\.(mxl|xml|musicxml|krn|abc|mid|midi|md|mei|rntxt)$", "", raw, flags=re.I)
    m = re.fullmatch(r"bwv(\d.*)", stem, flags=re.I)
    if m:
        return f"Chorale BWV {m.group(1)}"
    return stem.replace("_", " ").strip() or raw


def _artist(composer: str) -> str:
    return composer.replace("_", " ").title() if composer else "Traditional"


def import_catalog(engine: Engine, catalog_json: Path) -> dict[str, int]:
    """Insert new catalog songs and refresh the metadata of known ones (matched by ``audio_id``)."""
    doc = json.loads(catalog_json.read_text())
    songs: list[dict[str, Any]] = doc["songs"] if isinstance(doc, dict) else doc
    root = catalog_json.parent.resolve()
    rows = []
    for s in songs:
        title = _title(str(s.get("title") or s["id"]))
        collection = str(COLLECTION_NAMES.get(str(s.get("collection", "")), s.get("collection") or "catalog"))
        rows.append(
            {
                "source": SongSource.catalog,
                "audio_id": s["id"],
                "title": title[:512],
                "artist": _artist(str(s.get("composer") or ""))[:512],
                "release": collection[:512],
                "collection": collection[:128],
                "duration_s": s.get("duration_s"),
                "tempo_bpm": s.get("tempo_bpm"),
                "tags": " ".join(sorted({s.get("collection", ""), *(i.lower() for i in s.get("instruments", []))}))[
                    :2000
                ],
                "extra": json.dumps(
                    {
                        "instruments": s.get("instruments"),
                        "key": s.get("key"),
                        "composer": s.get("composer"),
                        "source_path": s.get("source_path"),
                    }
                ),
                "audio_path": str(root / s["file"]),
            }
        )
    inserted = updated = 0
    with engine.begin() as conn:
        known = {a: i for a, i in conn.execute(select(Song.audio_id, Song.id).where(Song.audio_id.is_not(None)))}
        new = [r for r in rows if r["audio_id"] not in known]
        for start in range(0, len(new), 500):
            conn.execute(insert(Song), new[start : start + 500])
        inserted = len(new)
        for r in rows:
            if r["audio_id"] in known:
                conn.execute(
                    update(Song)
                    .where(Song.id == known[r["audio_id"]])
                    .values(**{k: v for k, v in r.items() if k not in ("source", "audio_id")})
                )
                updated += 1
    return {"songs": len(rows), "inserted": inserted, "updated": updated}
