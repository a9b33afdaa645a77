"""The Subsonic / OpenSubsonic protocol's shape: answers in XML or JSON, error codes, client versions, passwords.

Pure functions (no HTTP, no database): the HTTP layer (:mod:`gateway.app.routes.subsonic`) parses a request into
parameters, authenticates, calls a method and renders what it returns with :func:`render`. Every answer is a
``subsonic-response`` with ``status``, ``version``, ``type``, ``serverVersion`` and ``openSubsonic: true``; an error
is the same envelope with ``status="failed"`` and an ``error`` element (code and message), always HTTP 200 as the
protocol has it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

API_VERSION = "1.16.1"
SERVER_TYPE = "musicrec"
XMLNS = "http://subsonic.org/restapi"

# The protocol's error codes.
GENERIC = 0
MISSING_PARAMETER = 10
CLIENT_TOO_OLD = 20
SERVER_TOO_OLD = 30
WRONG_CREDENTIALS = 40
TOKEN_NOT_SUPPORTED = 41
UNSUPPORTED_MECHANISM = 42
CONFLICTING_MECHANISMS = 43
INVALID_API_KEY = 44
NOT_AUTHORISED = 50
NOT_FOUND = 70

Node = dict[str, Any]  # attributes (str/int/float/bool) and children (Node or list[Node]) by element name


class SubsonicError(Exception):
    """An error answer: ``code`` from the protocol's table and a message for people."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Answer:
    """A method's successful answer: ``body`` maps child element names to nodes (or lists of nodes)."""

    body: Node = field(default_factory=dict)


def version_tuple(text: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){0,3}", text or ""):
        raise SubsonicError(MISSING_PARAMETER, f"parameter v is not a version: {text!r}")
    return tuple(int(p) for p in text.split("."))


def check_client_version(text: str) -> None:
    """Refuse clients speaking another major version (20: client must upgrade, 30: server must upgrade)."""
    client = version_tuple(text)
    server = version_tuple(API_VERSION)
    if client[0] < server[0]:
        raise SubsonicError(CLIENT_TOO_OLD, f"client protocol {text} is too old; this server speaks {API_VERSION}")
    if client[0] > server[0] or client[:2] > server[:2]:
        raise SubsonicError(SERVER_TOO_OLD, f"this server speaks protocol {API_VERSION}, older than {text}")


def decode_password(raw: str) -> str:
    """``p`` as sent: plain, or ``enc:`` followed by the UTF-8 bytes in hex."""
    if raw.startswith("enc:"):
        try:
            return bytes.fromhex(raw[4:]).decode("utf-8")
        except ValueError as exc:
            raise SubsonicError(WRONG_CREDENTIALS, "wrong username or password") from exc
    return raw


def token_matches(secret: str, salt: str, token: str) -> bool:
    """Whether ``token`` is md5(secret + salt) in hex (token authentication), compared in constant time."""
    expected = hashlib.md5((secret + salt).encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(expected, token.lower())


def envelope(status: str, server_version: str) -> Node:
    return {
        "status": status,
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": server_version,
        "openSubsonic": True,
    }


# Characters XML 1.0 cannot hold, even escaped (names in the wild do contain some: MSD titles with ESC, ...).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _to_xml(parent: ET.Element, name: str, node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _to_xml(parent, name, item)
        return
    child = ET.SubElement(parent, name)
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, dict | list):
                _to_xml(child, key, value)
            elif key == "value":  # element text (e.g. a genre's name)
                child.text = _xml_value(value)
            elif value is not None:
                child.set(key, _xml_value(value))
    elif node is not None:
        child.text = _xml_value(node)


def _strip_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_strip_none(v) for v in node]
    return node


def render(body: Node, fmt: str, server_version: str, *, status: str = "ok") -> tuple[bytes, str]:
    """``(bytes, media type)`` of a ``subsonic-response`` holding ``body``, as XML (default) or JSON."""
    head = envelope(status, server_version)
    if fmt == "json":
        doc = {"subsonic-response": head | _strip_none(body)}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/json"
    root = ET.Element("subsonic-response", {"xmlns": XMLNS, **{k: _xml_value(v) for k, v in head.items()}})
    for name, node in body.items():
        _to_xml(root, name, node)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8"), "text/xml"


def render_error(error: SubsonicError, fmt: str, server_version: str) -> tuple[bytes, str]:
    return render({"error": {"code": error.code, "message": error.message}}, fmt, server_version, status="failed")
