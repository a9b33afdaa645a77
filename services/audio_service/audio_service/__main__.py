"""Command line of audio_service: ``python -m audio_service serve``; other commands: :mod:`audio_service.cli`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in and args_in[0] not in ("serve", "-h", "--help"):
        from audio_service.cli import main as cli_main

        return cli_main(list(args_in))
    parser = argparse.ArgumentParser(prog="python -m audio_service", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the HTTP API with uvicorn")
    serve_cmd.add_argument("--port", type=int, default=None, help="default: AUDIO_PORT")
    args = parser.parse_args(args_in)
    if args.command == "serve":
        from musicrec_common.web import serve

        from audio_service.app.main import create_app
        from audio_service.app.settings import get_settings

        settings = get_settings()
        serve(create_app, settings, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
