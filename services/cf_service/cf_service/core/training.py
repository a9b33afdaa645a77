"""Train the vote on listens and publish it as a new artifact version."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicrec_common.versions import KEEP_VERSIONS
from tqdm import tqdm

from cf_service.core.artifacts import save_version
from cf_service.core.data import Interactions, as_interactions, read_interactions
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.tuning import tune as run_tune
from cf_service.core.vote import build_vote

Log = Callable[[str], None]


@dataclass
class TrainResult:
    path: Path
    version: str
    seconds: float
    params: dict[str, Any]


def train(
    listens: str | Path | Sequence[str | Path] | Any,
    out_dir: str | Path,
    *,
    params: dict[str, Any] | None = None,
    tune: bool = False,
    progress: bool = True,
    log: Log | None = None,
    keep: int = KEEP_VERSIONS,
) -> TrainResult:
    """Fit the vote on ``listens`` and write ``out_dir/<version>/`` + switch ``current``; versions older
    than the newest ``keep`` are deleted.

    Args:
        listens: TSV path(s) (concatenated, counts of repeated pairs summed), a
            frame, Listens or :class:`Interactions`.
        params: hyper-parameters shaped like :data:`DEFAULT_PARAMS` (e.g. the
            ``params`` of an evaluate JSON); defaults when None.
        tune: re-tune on a validation carve of ``listens`` first (slow).
        keep: model versions kept in ``out_dir`` (the new one included).
    """
    start = time.perf_counter()
    say: Log = log or (lambda _msg: None)
    if isinstance(listens, (str, Path)) or (
        isinstance(listens, (list, tuple)) and all(isinstance(p, (str, Path)) for p in listens)
    ):
        paths = [listens] if isinstance(listens, (str, Path)) else list(listens)
        inter: Interactions = read_interactions(paths)
        source: Any = [str(p) for p in paths]
    else:
        inter = as_interactions(listens)
        source = type(listens).__name__
    say(f"read {inter.nnz} listens: {inter.n_users} users, {inter.n_songs} songs")
    chosen = params or DEFAULT_PARAMS
    tuning: dict[str, Any] | None = None
    if tune:
        result = run_tune(inter, log=say)
        chosen = result.params
        tuning = result.to_dict()
    vote = build_vote(chosen)
    with tqdm(total=len(vote.members) + 1, desc="train", unit="step", disable=not progress) as bar:

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        vote.fit(inter, progress=step)
        bar.set_postfix_str("save")
        path = save_version(
            vote,
            out_dir,
            keep=keep,
            manifest={
                "source": source,
                "member_fit_seconds": {k: round(m.fit_seconds, 3) for k, m in vote.members.items()},
                **({"tuning": tuning} if tuning else {}),
            },
        )
        bar.update(1)
    seconds = time.perf_counter() - start
    say(f"wrote {path} in {seconds:.1f}s")
    return TrainResult(path=path, version=path.name, seconds=seconds, params=vote.get_params())
