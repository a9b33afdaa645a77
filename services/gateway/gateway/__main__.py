"""Command line of the gateway: ``python -m gateway {serve,migrate,import-data,create-demo-users}``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicrec_common.tasteprofile import TasteProfileError

if TYPE_CHECKING:
    from gateway.app.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the HTTP API with uvicorn")
    serve_cmd.add_argument("--port", type=int, default=None, help="default: GATEWAY_PORT")
    sub.add_parser("migrate", help="apply the Alembic migrations to DATABASE_URL")
    imp = sub.add_parser("import-data", help="import song metadata and Taste Profile listens (idempotent)")
    imp.add_argument("--songs", type=Path, default=None, help="songs.tsv (default: DATA_DIR/msd/songs.tsv)")
    imp.add_argument("--no-songs", action="store_true", help="do not import song metadata")
    imp.add_argument(
        "--doubtful",
        type=Path,
        default=None,
        help="songs whose MSD match is doubtful, flagged 'metadata uncertain' "
        "(default: songs_doubtful.tsv beside the songs file, when present)",
    )
    imp.add_argument(
        "--tracks",
        type=Path,
        default=None,
        help="the MSD's unique_tracks.txt (track_id<SEP>song_id<SEP>artist<SEP>title): every MSD song becomes a "
        "name your music and your history can match (read in chunks; existing names are only filled in)",
    )
    imp.add_argument(
        "--listens",
        type=Path,
        action="append",
        default=None,
        help="Taste Profile file, repeatable (default: DATA_DIR/msd/listens_10000_head.tsv)",
    )
    imp.add_argument(
        "--on-error",
        choices=["reject", "skip"],
        default="reject",
        help="malformed line: reject the whole import (default) or skip the line and report it",
    )
    sub.add_parser(
        "create-demo-users",
        help="create `admin` and demo listeners with rich histories (idempotent); "
        "passwords from ADMIN_PASSWORD / DEMO_PASSWORD, else generated and printed once",
    )
    exp = sub.add_parser("export-plays", help="write every play (imported and the app's own) as a Taste Profile TSV")
    exp.add_argument("--out", type=Path, required=True)
    act = sub.add_parser(
        "export-active",
        help="write the cf ids of the listeners active lately (signed in, played, rated), one per line: the users "
        "whose lists `python -m cf_service precompute --users-file` precomputes (the others are scored on demand)",
    )
    act.add_argument("--out", type=Path, required=True)
    act.add_argument("--days", type=float, default=30.0, help="the window (default 30 days)")
    cat = sub.add_parser("import-catalog", help="import audio_service's rendered catalog.json as catalog songs")
    cat.add_argument("--catalog", type=Path, required=True, help="path of catalog.json")
    lib = sub.add_parser(
        "scan-library",
        help="add the audio files of a music folder as playable songs, matched to the MSD (incremental)",
    )
    lib.add_argument("folder", type=Path, help="the music folder (files are played from there, never copied)")
    lib.add_argument("--json", type=Path, default=None, help="write one JSON record per file here")
    lib.add_argument(
        "--analyse",
        choices=("send", "wait", "no"),
        default="send",
        help="sound analysis by audio_service: send the files and return (default), wait for it with a progress "
        "bar, or skip it (the running gateway sends them every LIBRARY_SYNC_S seconds anyway)",
    )
    args = parser.parse_args(argv)

    from gateway.app.settings import get_settings

    settings = get_settings()
    if args.command == "serve":
        from musicrec_common.web import serve

        from gateway.app.main import create_app

        serve(create_app, settings, args.port)
        return 0
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if args.command == "migrate":
        from gateway.db.migrate import upgrade

        upgrade(url)
        print(f"database migrated: {_redact(url)}")
        return 0
    if args.command == "import-data":
        from gateway.db.importer import import_data
        from gateway.db.session import make_engine

        songs = None if args.no_songs else (args.songs or settings.data_dir / "msd" / "songs.tsv")
        listens = args.listens or [settings.data_dir / "msd" / "listens_10000_head.tsv"]
        doubtful = args.doubtful
        if doubtful is None and songs is not None and (songs.parent / "songs_doubtful.tsv").exists():
            doubtful = songs.parent / "songs_doubtful.tsv"
        engine = make_engine(url)
        try:
            report = import_data(
                engine,
                songs_path=songs,
                listens_paths=listens,
                doubtful_path=doubtful,
                on_error=args.on_error,
                tracks_path=args.tracks,
            )
        except TasteProfileError as exc:
            print(f"import rejected, nothing written: {exc}", file=sys.stderr)
            return 2
        finally:
            engine.dispose()
        for bad in report.bad_lines:
            print(f"skipped {bad['file']}: line {bad['line']}: {bad['reason']}", file=sys.stderr)
        print(json.dumps(report.as_dict() | {"bad_lines": len(report.bad_lines)}, indent=2))
        return 0
    if args.command == "create-demo-users":
        return _create_demo_users(settings, url)
    if args.command == "import-catalog":
        from gateway.db.catalog_import import import_catalog
        from gateway.db.session import make_engine

        if not args.catalog.exists():
            print(
                f"no catalog at {args.catalog}: build it with `python -m audio_service build-catalog`", file=sys.stderr
            )
            return 2
        engine = make_engine(url)
        try:
            print(json.dumps(import_catalog(engine, args.catalog)))
        finally:
            engine.dispose()
        return 0
    if args.command == "scan-library":
        return _scan_library(settings, url, args.folder, args.json, args.analyse)
    if args.command == "export-active":
        from gateway.db.export import export_active
        from gateway.db.session import make_engine

        if args.days <= 0:
            print("--days must be positive", file=sys.stderr)
            return 2
        engine = make_engine(url)
        try:
            print(json.dumps(export_active(engine, args.days, args.out)))
        finally:
            engine.dispose()
        return 0
    if args.command == "export-plays":
        from gateway.db.export import export_plays
        from gateway.db.session import make_engine

        engine = make_engine(url)
        try:
            print(json.dumps(export_plays(engine, args.out)))
        finally:
            engine.dispose()
        return 0
    return 1


def _scan_library(settings: Settings, url: str, folder: Path, json_out: Path | None, analyse: str) -> int:
    from tqdm import tqdm

    from gateway.core.library import walk
    from gateway.db.library import as_json_lines, scan, summary
    from gateway.db.session import make_engine

    if not folder.is_dir():
        print(f"no folder {folder}", file=sys.stderr)
        return 2
    total = sum(1 for _ in walk(folder))
    engine = make_engine(url)
    try:
        with tqdm(total=total, desc="scan-library", unit="file", disable=None) as bar:
            records = scan(engine, folder, progress=bar.update)
        if analyse != "no":
            import asyncio

            asyncio.run(_analyse_library(settings, engine, wait=analyse == "wait"))
    finally:
        engine.dispose()
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(as_json_lines(records))
    for r in records:
        if r.status == "failed":
            print(f"failed: {r.path}: {r.reason}", file=sys.stderr)
    print(json.dumps(summary(records)))
    return 0


async def _analyse_library(settings: Settings, engine: Any, *, wait: bool) -> None:
    """Send the library's files to audio_service; with ``wait``, follow its analysis to the end."""
    import asyncio

    import httpx
    from tqdm import tqdm

    from gateway.app.clients import AudioClient
    from gateway.app.downstream import ServiceDown, ServiceRejected
    from gateway.app.library_sync import sync_once
    from gateway.app.metrics import Metrics

    async with httpx.AsyncClient() as http:
        audio = AudioClient(
            http, Metrics(), settings.audio_service_url, settings.service_timeout_s, settings.audio_admin_token
        )
        report = await sync_once(engine, audio)
        if report.error:
            print(
                f"sound analysis not started: {report.error}; the gateway sends the files when it runs", file=sys.stderr
            )
            return
        print(
            f"sound analysis: {report.queued} files queued, {report.already} already analysed or queued, "
            f"{report.rejected} refused"
        )
        if not wait:
            return
        # Wait for the whole queue, not only for the files this run queued: the running gateway may have sent
        # the same files a moment earlier (then they count as "already" here, but are not analysed yet).
        pending: int | None = None
        with tqdm(total=None, desc="sound analysis", unit="song", disable=None) as bar:
            while True:
                try:
                    st = await audio.library_status()
                except (ServiceDown, ServiceRejected) as exc:
                    print(f"audio_service stopped answering ({exc}); it resumes when it is back", file=sys.stderr)
                    return
                left = st.queued + (1 if st.running else 0)
                if pending is None:
                    pending = left
                    bar.reset(total=pending)
                bar.n = max(0, pending - left)
                bar.refresh()
                if not left:
                    break
                await asyncio.sleep(1.0)
        if st.failed:
            for e in st.errors:
                print(f"analysis failed: {e.audio_id}: {e.reason}", file=sys.stderr)


def _create_demo_users(settings: Settings, url: str) -> int:
    from gateway.db.demo import create_demo_users
    from gateway.db.session import make_engine

    create_demo = True
    if settings.production and settings.demo_password is None:
        # Generated passwords would end up in deployment logs: production demo accounts need DEMO_PASSWORD.
        print("production mode: DEMO_PASSWORD is not set, demo accounts are not created", file=sys.stderr)
        create_demo = False
    engine = make_engine(url)
    try:
        accounts = create_demo_users(
            engine,
            admin_password=settings.admin_password,
            demo_password=settings.demo_password,
            create_demo=create_demo,
        )
    finally:
        engine.dispose()
    for acc in accounts:
        if not acc.created:
            print(f"{acc.username}: exists, unchanged")
            continue
        origin = f"MSD listener {acc.msd_user_id}, {acc.songs} songs" if acc.msd_user_id else "no listening history"
        if acc.is_admin:
            origin = "administrator"
        if acc.password is not None:
            secret = f"password {acc.password}  (generated: shown only this once)"
        else:
            secret = "password from " + ("ADMIN_PASSWORD" if acc.is_admin else "DEMO_PASSWORD")
        print(f"{acc.username}: created ({origin}); {secret}")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
