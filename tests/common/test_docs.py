"""The README documents every setting the services read."""

from __future__ import annotations

from pathlib import Path

from musicrec_tools.configdoc import rows

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_lists_every_environment_variable() -> None:
    missing = [env for env, *_ in rows() if f"| `{env}` |" not in README]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    assert "make run" in README and "make test" in README and "```mermaid" in README
