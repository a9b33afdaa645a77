"""Charts: the most played songs, all time or recently."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from gateway.app.deps import Db
from gateway.app.schemas import ChartItem, ChartOut, ChartWindow, SongOut
from gateway.db import catalog
from gateway.db.models import utcnow

router = APIRouter(prefix="/api", tags=["catalog"])
WINDOWS = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}


@router.get("/charts", response_model=ChartOut)
def charts(
    db: Db,
    window: Annotated[
        ChartWindow, Query(description="`all`: every play (imported and the app's); else the app's plays in it")
    ] = "all",
    n: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ChartOut:
    """Most played songs, by the sum of play counts across users."""
    since = None if window == "all" else utcnow() - WINDOWS[window]
    rows = catalog.chart(db, since=since, n=n)
    return ChartOut(
        window=window,
        items=[ChartItem(rank=i, plays=plays, song=SongOut.of(song)) for i, (song, plays) in enumerate(rows, 1)],
    )
