"""Fixtures shared by the whole suite.

Database tests take the ``db_url`` fixture: SQLite always, plus PostgreSQL
and MariaDB/MySQL when ``TEST_POSTGRES_URL`` / ``TEST_MYSQL_URL`` are set
(``.ci/run`` sets them). Backends that are not configured are not generated,
so nothing is reported as skipped-but-passing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import MetaData, text

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


def database_urls() -> list[tuple[str, str | None]]:
    urls: list[tuple[str, str | None]] = [("sqlite", None)]
    if os.environ.get("TEST_POSTGRES_URL"):
        urls.append(("postgresql", os.environ["TEST_POSTGRES_URL"]))
    if os.environ.get("TEST_MYSQL_URL"):
        urls.append(("mysql", os.environ["TEST_MYSQL_URL"]))
    return urls


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        backends = database_urls()
        metafunc.parametrize("db_backend", [b for b in backends], ids=[b[0] for b in backends], indirect=True)


def reset_database(url: str) -> None:
    """Drop every table (ours and Alembic's) so each test starts from nothing."""
    from gateway.db.session import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "mysql":
                conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            meta = MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)
            if conn.dialect.name == "mysql":
                conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    finally:
        engine.dispose()


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def db_url(db_backend: tuple[str, str | None], tmp_path: Path) -> Iterator[str]:
    _, url = db_backend
    if url is None:
        url = f"sqlite:///{tmp_path / 'test.db'}"
    reset_database(url)
    yield url
    reset_database(url)


@pytest.fixture
def migrated_url(db_url: str) -> str:
    from gateway.db.migrate import upgrade

    upgrade(db_url)
    return db_url


def _load(name: str, path: Path) -> ModuleType:
    """The module at ``path`` under ``name``, loaded once (registered first: dataclasses look it up)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_test_module(relative: str) -> ModuleType:
    """A helper module of the suite by path (e.g. ``integration/conftest.py``), the one pytest loaded if any.

    Test folders are not packages (``--import-mode=importlib``): this is how one folder's helpers are
    reused by another, and by the bench scripts.
    """
    return _load("tests." + relative.removesuffix(".py").replace("/", "."), Path(__file__).parent / relative)


def load_bench_module(name: str) -> ModuleType:
    """A script of ``bench/`` as a module (e.g. ``match_eval``, ``synth``): tests use what the benchmarks use."""
    return _load(f"bench_{name}", REPO / "bench" / f"{name}.py")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real stack on loopback (``Stack`` in tests/integration/conftest.py), started once per session.

    Shared by tests/integration and tests/reliability: building it (data, cf model, tiny audio pipeline)
    takes minutes, so it is built once.
    """
    s = load_test_module("integration/conftest.py").Stack(tmp_path_factory.mktemp("stack"))
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture
def music_folder(stack: Any) -> Iterator[Path]:
    """The stack's MUSIC_DIR for one test; emptied and scanned again afterwards, so that the stack has no playable
    library for the tests after it (a library changes the default scope of every list)."""
    import shutil
    import subprocess

    from musicrec_tools.procs import python_module

    folder = Path(stack.env["MUSIC_DIR"])
    yield folder
    for child in folder.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    argv = python_module("gateway", "scan-library", str(folder), "--analyse", "no")
    subprocess.run(argv, env=stack.env, capture_output=True, check=True, timeout=300)
    time.sleep(6)  # the gateway re-reads the library's songs every 5 s (gateway.app.library_scope)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's, driven by Playwright) for the whole session.

    Session-wide and in this root conftest because Playwright's sync API can run only one instance at a
    time in a thread: every test that needs a browser (tests/browser, tests/reliability) shares this one.
    `make test` installs Chromium; a missing browser is a failure, never a silent skip.
    """
    import playwright.sync_api as sync_api

    helpers = load_test_module("browser/conftest.py")
    path = helpers.chromium_path()
    if path is None:
        pytest.fail("no Chromium binary: `make test` installs Debian's chromium (or set CHROMIUM_PATH)")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=helpers.CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
