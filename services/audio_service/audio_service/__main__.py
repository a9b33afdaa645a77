"""Command line of audio_service: ``python -m audio_service serve``."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audio_service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API with uvicorn")
    serve.add_argument("--port", type=int, default=None, help="default: AUDIO_PORT")
    args = parser.parse_args(argv)
    if args.command == "serve":
        import uvicorn

        from audio_service.app.main import create_app
        from audio_service.app.settings import get_settings

        settings = get_settings()
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level,
            access_log=False,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
