"""``python -m cf_service serve`` runs the API; other commands live in :mod:`cf_service.cli`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        import argparse

        import uvicorn

        from cf_service.app.main import create_app
        from cf_service.app.settings import get_settings

        parser = argparse.ArgumentParser(prog="python -m cf_service serve")
        parser.add_argument("--port", type=int, default=None, help="default: CF_PORT")
        args = parser.parse_args(argv[1:])
        settings = get_settings()
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level,
            access_log=False,
        )
        return 0
    from cf_service.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
