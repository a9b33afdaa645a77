"""Process-wide resources of the gateway, created in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.app.browse_cache import BrowseCache
from gateway.app.cache import Cache
from gateway.app.clients import AudioClient, CfClient
from gateway.app.library_scope import LibraryScope
from gateway.app.limits import SharedLimiter
from gateway.app.matcher_service import MatcherService
from gateway.app.metrics import Metrics
from gateway.app.search_service import SearchService
from gateway.app.settings import Settings
from gateway.core.credentials import Vault


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: aioredis.Redis
    http: httpx.AsyncClient  # one shared client: pooled connections to both services
    search: SearchService
    login_limiter: SharedLimiter  # counted in Redis across replicas (in-process while Redis is down)
    metrics: Metrics
    cache: Cache  # Redis wrapped so that a failure is a miss plus a `degraded` flag
    audio_query_limiter: SharedLimiter
    cf: CfClient = field(init=False)  # typed clients on the shared `http`
    audio: AudioClient = field(init=False)
    matcher: MatcherService = field(init=False)  # names -> songs, for imports and scrobbles
    library: LibraryScope = field(init=False)  # the music folder's playable songs (the `library` scope)
    browse: BrowseCache = field(init=False)  # what Subsonic apps browse: the playable catalog, in memory
    vault: Vault = field(init=False)  # app passwords of Subsonic apps, encrypted with CREDENTIALS_SECRET

    def __post_init__(self) -> None:
        s = self.settings
        self.cf = CfClient(self.http, self.metrics, s.cf_service_url, s.service_timeout_s)
        self.audio = AudioClient(self.http, self.metrics, s.audio_service_url, s.service_timeout_s, s.audio_admin_token)
        self.matcher = MatcherService(self.engine)
        self.library = LibraryScope(self.engine)
        self.browse = BrowseCache(self.engine)
        self.vault = Vault(s.effective_credentials_secret())
