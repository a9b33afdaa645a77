"""The served model and its atomic replacement.

Requests read ``holder.current`` once and keep that reference, so a reload
(which builds the new model fully before swapping one attribute) never hands a
request half of two models.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cf_service.core.base import Recommender

log = logging.getLogger("cf_service")


@dataclass(frozen=True)
class Served:
    model: Recommender  # the vote, as every model, behind the one interface
    version: str
    meta: dict[str, Any] = field(default_factory=dict)


class ModelHolder:
    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir
        self.current: Served | None = None
        self.error: str | None = None
        self._lock = threading.Lock()  # one reload at a time

    def reload(self) -> Served | None:
        """Load the folder ``current`` points at; keep serving the old model if that fails."""
        from cf_service.core.artifacts import load_current

        with self._lock:
            try:
                model = load_current(self.model_dir)
                meta = dict(model.meta)
            except FileNotFoundError as exc:
                self.error = f"no trained model in {self.model_dir}: run `python -m cf_service train` ({exc})"
                log.warning(self.error)
                return self.current
            except Exception as exc:  # a corrupt artifact must not take the service down
                self.error = f"could not load model: {type(exc).__name__}: {exc}"
                log.exception("model load failed")
                return self.current
            self.current = Served(model, str(meta.get("version", "unknown")), meta)
            self.error = None
            log.info("serving cf model %s", self.current.version)
            return self.current
