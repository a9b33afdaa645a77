"""Write one benchmark's section into bench/RESULTS.md, replacing its previous run."""

from __future__ import annotations

import datetime as dt
import platform
import re
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADER = (
    "# Benchmark results\n\nEvery number here was produced by the command shown with it, on the machine described.\n"
)


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def commit() -> str:
    """The measured code: ``HEAD``'s short hash, with ``+ uncommitted changes`` when the tree differs from it."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=RESULTS.parent.parent, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    # RESULTS.md itself is what is being written: its own changes do not make the measured code dirty.
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/RESULTS.md")
    return f"`{head}`" + (" + uncommitted changes" if dirty else "")


def write_section(name: str, command: str, body: str) -> None:
    """Replace (or append) the section ``## name`` with the command, commit, date, machine and body."""
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"## {name}\n\nCommand: `{command}`  \nCommit: {commit()}  \nRun: {stamp} on {machine()}\n\n{body.strip()}\n\n"
    )
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)


def publish(name: str, body: str, *, write: bool) -> None:
    """Print ``body`` and, with ``write``, put it in the section ``## name`` with the command that ran this
    script (its arguments as given, ``--no-write`` left out)."""
    print(body)
    if write:
        args = "".join(f" {a}" for a in sys.argv[1:] if a != "--no-write")
        write_section(name, f"python bench/{Path(sys.argv[0]).name}{args}", body)
