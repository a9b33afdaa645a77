"""Request and response models of the gateway's public API.

Every model of the API lives here, named by one rule: a request body ends in ``In``
(``LoginIn``), a whole answer in ``Out`` (``RecsOut``), and a part of an answer is
named for what it is (``RecItem``, ``Segment``). Models of calls *between* services
are not here: they are ``musicrec_common.schemas``.

Request bodies forbid unknown fields: a ``user_id`` sent by a client is an
error, never silently used or ignored. Times are UTC and carry their offset.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.app.guards import MAX_ID
from gateway.core import security
from gateway.core.taste import tag_names
from gateway.db.models import FeedbackKind, Song


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_utc)]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- accounts --------------------------------------------------------------------


class RegisterIn(RequestBody):
    username: str = Field(max_length=64, description="3–32 characters: letters, digits, `_`, `.`, `-`")
    password: str = Field(min_length=security.PASSWORD_MIN_LENGTH, max_length=security.PASSWORD_MAX_LENGTH)

    @field_validator("username")
    @classmethod
    def _username_rules(cls, value: str) -> str:
        problem = security.username_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class LoginIn(RequestBody):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=security.PASSWORD_MAX_LENGTH)


class PasswordChangeIn(RequestBody):
    current_password: str = Field(min_length=1, max_length=security.PASSWORD_MAX_LENGTH)
    new_password: str = Field(min_length=security.PASSWORD_MIN_LENGTH, max_length=security.PASSWORD_MAX_LENGTH)


class AccountDeleteIn(RequestBody):
    password: str = Field(min_length=1, max_length=security.PASSWORD_MAX_LENGTH)


class UserOut(BaseModel):
    id: int
    username: str
    is_admin: bool
    created_at: UtcDatetime


class SessionOut(BaseModel):
    """Returned by register and login; the same token is also set as an httpOnly cookie."""

    user: UserOut
    token: str = Field(description="Send as `Authorization: Bearer <token>` (API clients)")
    expires_at: UtcDatetime


class UserStats(BaseModel):
    songs_played: int
    plays: int
    ratings: int
    likes: int
    dislikes: int


class MeOut(UserOut):
    msd_user_id: str | None = Field(description="Taste Profile listener this account's history comes from")
    session_expires_at: UtcDatetime
    stats: UserStats


# --- catalog ---------------------------------------------------------------------


class SongOut(BaseModel):
    id: int
    title: str | None
    artist: str | None
    release: str | None
    year: int | None
    duration_s: float | None
    genre: str | None
    source: str
    collection: str | None
    msd_song_id: str | None
    has_audio: bool
    audio_url: str | None
    metadata_uncertain: bool = Field(
        default=False,  # lists cached before the flag existed still validate
        description="MSD lists this song's song-to-track match as wrong: its name may belong to another recording",
    )
    tags: list[str] = Field(
        default_factory=list, description="Last.fm tags (MSD songs) or the catalog's collection and instruments"
    )

    @classmethod
    def of(cls, song: Song) -> SongOut:
        has_audio = bool(song.audio_path)
        return cls(
            id=song.id,
            title=song.title,
            artist=song.artist,
            release=song.release,
            year=song.year,
            duration_s=song.duration_s,
            genre=song.genre,
            source=str(song.source.value if hasattr(song.source, "value") else song.source),
            collection=song.collection,
            msd_song_id=song.msd_song_id,
            has_audio=has_audio,
            audio_url=f"/api/songs/{song.id}/audio" if has_audio else None,
            metadata_uncertain=bool(song.metadata_uncertain),
            tags=tag_names(song),
        )


class SongStats(BaseModel):
    plays: int = Field(description="All plays: imported listens and the app's own")
    plays_recent: int = Field(description="The app's plays in the last `recent_days` days")
    recent_days: int
    listeners: int
    rating_avg: float | None
    rating_count: int
    likes: int
    dislikes: int


class MySongState(BaseModel):
    plays: int
    last_played_at: UtcDatetime | None
    rating: int | None
    feedback: FeedbackKind | None


class SongDetailOut(SongOut):
    tempo_bpm: float | None
    metadata_note: str | None = Field(description="Why the metadata is uncertain, when it is")
    extra: dict[str, Any] | None
    stats: SongStats
    me: MySongState | None = Field(default=None, description="Only when logged in")

    @classmethod
    def detail(cls, song: Song, stats: dict[str, Any], me: dict[str, Any] | None) -> SongDetailOut:
        extra: dict[str, Any] | None = None
        if song.extra:
            try:
                loaded = json.loads(song.extra)
                extra = loaded if isinstance(loaded, dict) else {"value": loaded}
            except ValueError:
                extra = None
        return cls(
            **SongOut.of(song).model_dump(),
            tempo_bpm=song.tempo_bpm,
            metadata_note=song.metadata_note if song.metadata_uncertain else None,
            extra=extra,
            stats=SongStats(**stats),
            me=MySongState(**me) if me is not None else None,
        )


class SearchItem(SongOut):
    score: float = Field(description="Match quality in (0, 1]; 1 for exact words")


class SearchOut(BaseModel):
    query: str
    page: int
    per_page: int
    total: int
    items: list[SearchItem]


ChartWindow = Literal["all", "24h", "7d", "30d"]


class ChartItem(BaseModel):
    rank: int
    plays: int
    song: SongOut


class ChartOut(BaseModel):
    window: ChartWindow
    items: list[ChartItem]


# --- listening -------------------------------------------------------------------


SKIP_MS = 30_000  # a song left before this is a skip: a negative signal, not a play


class PlayIn(RequestBody):
    """A play the player reports; with ``played_ms`` and ``skipped`` it says how the song was left."""

    song_id: int = Field(ge=1, le=MAX_ID)
    count: int = Field(default=1, ge=1, le=1000, description="Plays to add (default 1)")
    played_ms: int | None = Field(
        default=None, ge=0, le=86_400_000, description="How long the song was played, in milliseconds"
    )
    ended: bool = Field(default=False, description="The song played to its end")
    skipped: bool = Field(
        default=False,
        description=f"The listener moved on before the end; before {SKIP_MS // 1000} s (or with no `played_ms`) "
        "this is a skip: it lowers the song, its artist and its neighbours in later lists and is not a play",
    )

    @model_validator(mode="after")
    def _one_way_to_leave(self) -> PlayIn:
        if self.ended and self.skipped:
            raise ValueError("a play either ended or was skipped, not both")
        if self.skipped and self.count != 1:
            raise ValueError("a skip is one play (count 1)")
        return self

    @property
    def is_skip(self) -> bool:
        return self.skipped and (self.played_ms is None or self.played_ms < SKIP_MS)


class PlayOut(BaseModel):
    song_id: int
    count: int = Field(description="The user's plays of this song, this one included (a skip adds none)")
    played_at: UtcDatetime
    recorded: Literal["play", "skip"] = Field(
        default="play", description="`skip`: an early skip, kept as a negative signal, not as a play"
    )


class RatingIn(RequestBody):
    rating: int = Field(ge=1, le=5)


class RatingOut(BaseModel):
    song_id: int
    rating: int
    updated_at: UtcDatetime


class FeedbackIn(RequestBody):
    kind: FeedbackKind


class FeedbackOut(BaseModel):
    song_id: int
    kind: FeedbackKind
    created_at: UtcDatetime


def _rule_value(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be empty")
    return value


class ExclusionIn(RequestBody):
    """One rule: songs by this artist, of this genre (tagtraum) or with this tag (Last.fm, or the catalog's
    collection and instruments) never appear in your lists."""

    kind: Literal["artist", "genre", "tag"]
    value: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_rule_value)]


class ExclusionsIn(RequestBody):
    rules: list[ExclusionIn] = Field(max_length=500, description="Every rule you want (replaces the old ones)")


class ExclusionOut(BaseModel):
    id: int
    kind: Literal["artist", "genre", "tag"]
    value: str


class ExclusionsOut(BaseModel):
    rules: list[ExclusionOut]


HistoryKind = Literal["plays", "ratings", "feedback"]


class HistoryItemOut(BaseModel):
    song: SongOut
    count: int | None = None
    last_played_at: UtcDatetime | None = None
    rating: int | None = None
    updated_at: UtcDatetime | None = None
    kind: FeedbackKind | None = None
    created_at: UtcDatetime | None = None


class HistoryOut(BaseModel):
    kind: HistoryKind
    page: int
    per_page: int
    total: int
    items: list[HistoryItemOut]


class ScrobbleTokenIn(RequestBody):
    name: str = Field(default="player", min_length=1, max_length=64, description="What the token is for")


class ScrobbleTokenOut(BaseModel):
    id: int
    name: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None
    token: str | None = Field(default=None, description="The token itself: only in the answer that creates it")


class ScrobbleTokensOut(BaseModel):
    items: list[ScrobbleTokenOut]
    submit_url: str = Field(description="Where players send listens (their ListenBrainz server setting)")


class AppCredentialIn(RequestBody):
    kind: Literal["password", "api_key"] = Field(
        default="password",
        description="`password`: an app password for Subsonic apps (username + this password, or token "
        "authentication); `api_key`: a key for apps that support OpenSubsonic's API keys",
    )
    name: str = Field(default="phone", min_length=1, max_length=64, description="Which app or device it is for")


class AppCredentialOut(BaseModel):
    id: int
    kind: Literal["password", "api_key"]
    name: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None
    secret: str | None = Field(
        default=None, description="The password or key itself: only in the answer that creates it"
    )


class AppCredentialsOut(BaseModel):
    items: list[AppCredentialOut]
    server_path: str = Field(description="Apps take this server's address; they call the Subsonic API under it")


class SkippedLine(BaseModel):
    line: int
    reason: str


class UnmatchedSong(BaseModel):
    artist: str | None
    title: str | None
    listens: int


class ImportOut(BaseModel):
    format: str = Field(description="lastfm, listenbrainz or spotify (recognised from the content)")
    rows: int = Field(description="Listens in the file")
    matched: int = Field(description="Listens matched to a song of the catalog")
    unmatched: int
    added: int = Field(description="New plays recorded (0 when the same file is imported again)")
    already_imported: int
    skips: int = Field(description="Listens shorter than 30 s: skips, not plays")
    skipped: list[SkippedLine] = Field(description="The first skipped lines and why")
    top_unmatched: list[UnmatchedSong] = Field(description="The most listened songs that matched nothing")


# --- recommendations, similar songs, radio, search by sound, the map --------------------------------


Basis = Literal["listeners", "sound", "both", "popular", "tags", "history"]


class WhyOut(BaseModel):
    """One reason in full: what gave it, the sentence, and the song it names (linkable), if any."""

    kind: Literal["listeners", "sound", "popular", "tags", "history"]
    text: str
    song: SongOut | None = Field(
        default=None, description="The song the reason names (you played it; it sounds like it)"
    )


class RecItem(BaseModel):
    song: SongOut
    score: float
    reasons: list[str]
    sources: dict[str, int] = Field(description="Rank of the song in each source's list")
    basis: Basis = Field(
        description="What put the song here: `listeners` (co-listening), `sound` (it sounds alike), `both`, "
        "`popular` (the charts), `tags` (a radio prompt's tags) or `history` (your own favourites)"
    )
    why: list[WhyOut] = Field(default_factory=list, description="Every reason, with the song it names")


class RecsOut(BaseModel):
    mode: str
    scope: Literal["all", "library"] = Field(
        description="`library`: only songs your music folder can play (the default once it has one); `all`: any song"
    )
    items: list[RecItem]
    degraded: list[str] = Field(description="Components left out of this answer: cf, audio, cache")
    fallback: str | None = Field(default=None, description="`popular` when the list is not personalised")
    left_out: int = Field(default=0, description="Songs your exclusion rules, skips and dislikes kept out of this list")
    refilled: int = Field(
        default=0, description="Songs added from the charts because the list ran short after leaving those out"
    )


class RadioOut(BaseModel):
    seed: SongOut
    scope: Literal["all", "library"]
    items: list[RecItem]
    degraded: list[str]
    left_out: int = Field(default=0, description="Songs your exclusion rules, skips and dislikes kept out")
    refilled: int = Field(default=0, description="Songs added from the charts to keep the mix full")


class PromptRadioOut(BaseModel):
    """A radio from a prompt of tags, genres and artists."""

    prompt: str = Field(description="The prompt as read (one spelling of it)")
    scope: Literal["all", "library"]
    matched: int = Field(description="Songs carrying the prompt's tags, genres or artists")
    items: list[RecItem]
    degraded: list[str]
    left_out: int = 0
    refilled: int = 0


class TagCount(BaseModel):
    name: str
    songs: int


class TagsOut(BaseModel):
    tags: list[TagCount]


class PathOut(BaseModel):
    """Songs from ``start`` to ``end`` in small steps (both ends included)."""

    basis: Literal["sound", "listeners", "none"] = Field(
        description="`sound`: through the sound embedding; `listeners`: through co-listening (a song without "
        "audio); `none`: nothing knows both songs (just the two ends)"
    )
    items: list[SongOut]
    degraded: list[str]


class PlaylistIn(RequestBody):
    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_rule_value)]
    song_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(default_factory=list, max_length=10_000)
    comment: str | None = Field(default=None, max_length=1024)


class PlaylistPatch(RequestBody):
    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_rule_value)] | None = None
    comment: str | None = Field(default=None, max_length=1024)
    public: bool | None = None
    song_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=10_000, description="The whole list in its new order (reorder, remove)"
    )


class PlaylistSummaryOut(BaseModel):
    id: int
    name: str
    public: bool
    owner: str
    mine: bool
    songs: int
    updated_at: UtcDatetime


class PlaylistsOut(BaseModel):
    playlists: list[PlaylistSummaryOut]


class PlaylistOut(BaseModel):
    id: int
    name: str
    comment: str | None
    public: bool
    owner: str
    mine: bool
    updated_at: UtcDatetime
    songs: list[SongOut]


class UnmatchedTrack(BaseModel):
    position: int = Field(description="0-based position in the imported file")
    title: str | None
    creator: str | None


class PlaylistImportOut(BaseModel):
    playlist: PlaylistOut
    tracks: int = Field(description="Tracks in the file")
    matched: int = Field(description="Tracks found here (in the new playlist, in order)")
    unmatched: list[UnmatchedTrack]


class MixOut(BaseModel):
    """A mix drawn for one listener and one day."""

    kind: Literal["daily", "rediscover"]
    day: str = Field(description="The UTC day the mix is drawn for (a new one every day)")
    scope: Literal["all", "library"]
    items: list[RecItem]
    degraded: list[str]
    left_out: int = Field(default=0, description="Songs your exclusion rules, skips and dislikes kept out")
    refilled: int = Field(default=0, description="Songs added from the charts to keep the mix full")


class Segment(BaseModel):
    query_start: float
    query_end: float
    song_start: float
    song_end: float
    score: float


class SoundMatch(BaseModel):
    song: SongOut
    score: float
    segments: list[Segment]


class SoundQueryOut(BaseModel):
    items: list[SoundMatch]
    degraded: list[str]


class VersionOut(BaseModel):
    """A song that may be a version of this one (or borrow from it): the best shared passage's similarity, the
    share of this song's passages that found it, and where the passage is in each."""

    song: SongOut
    score: float
    coverage: float
    query_start: float
    song_start: float


class VersionsOut(BaseModel):
    """``ready`` is false while the song's passages wait to be indexed (a new song): ask again later."""

    items: list[VersionOut]
    threshold: float
    ready: bool
    degraded: list[str]


class HumItem(BaseModel):
    """A song whose melody the hummed query follows: the passage in the song's time, how far the song is from the
    hummed key, and its speed relative to the humming."""

    song: SongOut
    score: float
    song_start: float
    song_end: float
    transpose_semitones: float
    tempo_ratio: float


class HumOut(BaseModel):
    """Songs whose melody the query hums. ``sung_s``: seconds in which a pitch was heard (under 2 s finds
    nothing); ``n_melodies``: how many songs' melodies were searched (those whose score is known)."""

    items: list[HumItem]
    sung_s: float
    n_melodies: int
    degraded: list[str]


class PassageOut(BaseModel):
    """A passage both recordings share, in seconds of each."""

    a_start: float
    a_end: float
    b_start: float
    b_end: float
    transpose_semitones: int
    tempo_ratio: float
    score: float


class CompareOut(BaseModel):
    """What two recordings share. ``a`` / ``b``: the songs compared (null for an uploaded clip);
    ``transpose_semitones``: how far ``b`` is transposed from ``a``; ``tempo_ratio``: ``b``'s speed relative to
    ``a``; ``matrix``: the cross-similarity picture (rows: ``a``'s time, columns: ``b``'s; at most 128 x 128, 0-1);
    ``verdict``: ``same music`` when a passage reaches the threshold, else ``no shared passage``."""

    a: SongOut | None
    b: SongOut | None
    similarity: float
    threshold: float
    verdict: Literal["same music", "no shared passage"]
    transpose_semitones: int
    tempo_ratio: float
    a_duration_s: float
    b_duration_s: float
    passages: list[PassageOut]
    matrix: list[list[float]]
    degraded: list[str]


class MapPoint(BaseModel):
    song_id: int
    x: float
    y: float
    collection: str | None
    title: str | None


class MapOut(BaseModel):
    points: list[MapPoint]
    collections: list[str]
    degraded: list[str]


# --- admin -----------------------------------------------------------------------


MetaText = Annotated[str, Field(min_length=1, max_length=512)]


class SongEditIn(RequestBody):
    """Fields to correct; an edited field is kept by every later `import-data`."""

    title: MetaText | None = None
    artist: MetaText | None = None
    release: MetaText | None = None
    year: int | None = Field(default=None, ge=1000, le=2100)
    genre: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("title", "artist", "release", "genre")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None:
            value = value.strip()
            if not value:
                raise ValueError("must not be blank")
        return value


class AdminSongOut(SongOut):
    edited_fields: list[str] = Field(description="Fields an admin edited: imports never change them")


class AdminUserOut(UserOut):
    has_password: bool = Field(description="False for imported listeners, who cannot log in")
    msd_user_id: str | None
    songs_played: int


class AdminUsersOut(BaseModel):
    page: int
    per_page: int
    total: int
    items: list[AdminUserOut]


# --- the music library ------------------------------------------------------------------------


class LibraryOut(BaseModel):
    """The music folder at a glance (`MUSIC_DIR`, scanned by `scan-library`)."""

    configured: bool = Field(description="Whether the server has a music folder (MUSIC_DIR)")
    files: int
    present: int
    missing: int = Field(description="Files scanned before and not found since (their songs keep their plays)")
    songs: int
    matched: int = Field(description="Files joined to an MSD song (they carry its listening data)")
    ambiguous: int = Field(description="Files whose MSD match waits for an admin (GET /api/admin/library/matches)")


class AlbumOut(BaseModel):
    artist: str | None
    title: str | None
    year: int | None
    cover_url: str | None = Field(description="The embedded cover of one of its files, if any")
    songs: list[SongOut]


class AlbumsOut(BaseModel):
    total: int
    offset: int
    items: list[AlbumOut]


class MatchCandidateOut(BaseModel):
    song: SongOut
    confidence: float


class MatchReviewOut(BaseModel):
    file_id: int
    path: str = Field(description="The file, relative to the music folder")
    tag_artist: str | None
    tag_title: str | None
    song: SongOut = Field(description="The song the file plays now (a song of its own)")
    candidates: list[MatchCandidateOut]


class MatchReviewsOut(BaseModel):
    items: list[MatchReviewOut]


class MatchDecisionIn(BaseModel):
    action: Literal["confirm", "reject"]
    msd_song_id: str | None = Field(default=None, max_length=32, description="The candidate chosen (confirm)")


class MatchDecisionOut(BaseModel):
    file_id: int
    song: SongOut = Field(description="The song the file plays from now on")
