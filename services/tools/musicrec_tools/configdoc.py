"""Print the configuration table of every service (Markdown), for the README.

``python -m musicrec_tools.configdoc``; a test checks the README lists every variable.
"""

from __future__ import annotations

import importlib

from pydantic_settings import BaseSettings

SERVICES = {
    "gateway": "gateway.app.settings",
    "cf_service": "cf_service.app.settings",
    "audio_service": "audio_service.app.settings",
}


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, services, default, description) for every setting."""
    seen: dict[str, tuple[list[str], str, str]] = {}
    for service, module in SERVICES.items():
        cls: type[BaseSettings] = importlib.import_module(module).Settings
        for name, field in cls.model_fields.items():
            env = (field.alias or name).upper()
            default = field.default
            shown = "" if default is None else str(default)
            if "/" in shown and ("/var" in shown or "/data" in shown or "/frontend" in shown):
                shown = shown.split("/")[-1] and "<repo>/" + shown.rsplit("/", 1)[-1]
            entry = seen.setdefault(env, ([], shown, field.description or ""))
            entry[0].append(service)
    return [(env, ", ".join(s), d, desc) for env, (s, d, desc) in seen.items()]


def table() -> str:
    lines = ["| variable | used by | default | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{env}` | {svc} | `{d}` | {desc} |" if d else f"| `{env}` | {svc} | | {desc} |"
        for env, svc, d, desc in rows()
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
