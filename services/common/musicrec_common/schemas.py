"""Request and response models shared across service boundaries (JSON over HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from musicrec_common.progress import Preparation

Status = Literal["ok", "degraded", "down"]


class ComponentHealth(BaseModel):
    """State of one dependency as seen by the service that uses it."""

    status: Status
    detail: str | None = None
    latency_ms: float | None = None
    info: dict[str, object] = Field(default_factory=dict)


class HealthResponse(BaseModel):
    """``GET /health`` of every service."""

    service: str
    version: str
    status: Status
    components: dict[str, ComponentHealth] = Field(default_factory=dict)
    info: dict[str, object] = Field(default_factory=dict)
    preparation: Preparation | None = Field(
        default=None,
        description="The gateway's view of background preparation: the first start's sound model, a music "
        "folder's analysis (step, done/total, time left); null when there never was any",
    )


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    """The one error shape of every service: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


# --- collaborative filtering -------------------------------------------------


WITHIN_MAX = 200_000  # songs a restricted list may be drawn from (a large music library's matched songs)


class HistoryItem(BaseModel):
    song_id: str = Field(min_length=1, max_length=64, description="MSD song id")
    play_count: int = Field(ge=1, le=1_000_000)


class FoldInRequest(BaseModel):
    """A listener the model has not seen, described by their plays."""

    history: list[HistoryItem] = Field(max_length=5000)
    n: int = Field(default=10, ge=1, le=500)
    exclude: list[str] = Field(default_factory=list, max_length=5000, description="Song ids never to return")
    within: list[str] | None = Field(
        default=None,
        max_length=WITHIN_MAX,
        description="Only these song ids may be returned (e.g. the songs a listener can play); null: any",
    )


class SimilarRequest(BaseModel):
    """``POST /similar/{song_id}``: songs co-listened with one song, only among ``within``."""

    n: int = Field(default=10, ge=1, le=500)
    within: list[str] = Field(max_length=WITHIN_MAX, description="Only these song ids may be returned")


class Reason(BaseModel):
    """A history song behind a recommendation ("because you played X")."""

    song_id: str
    share: float = Field(description="Fraction of the neighbourhood contribution, 0..1")


class RecommendedSong(BaseModel):
    song_id: str
    score: float
    rank: int
    member_ranks: dict[str, int | None] = Field(
        default_factory=dict, description="Rank in each member's list (None: not listed)"
    )
    because: list[Reason] = Field(default_factory=list, description="History songs that contributed most")


class RecommendationsResponse(BaseModel):
    user_id: str | None = None
    model_version: str | None = None
    fallback: Literal["popular"] | None = Field(default=None, description="Set when the list is not personalised")
    unknown_songs: int = Field(default=0, description="History songs the model does not know (fold-in)")
    items: list[RecommendedSong]


class SimilarSong(BaseModel):
    song_id: str
    score: float
    rank: int


class SimilarResponse(BaseModel):
    song_id: str
    model_version: str | None = None
    fallback: Literal["popular"] | None = None
    items: list[SimilarSong]


class PopularResponse(BaseModel):
    model_version: str | None = None
    items: list[SimilarSong]


# --- audio -------------------------------------------------------------------


class AudioSimilarResponse(BaseModel):
    """``GET /similar/{song_id}`` of audio_service: songs that sound alike (cosine of track embeddings)."""

    song_id: str
    model_version: str | None = None
    items: list[SimilarSong]


class SonicPathRequest(BaseModel):
    """``POST /path`` of audio_service: a path of songs from ``start`` to ``end`` through the sound embedding."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(min_length=1, max_length=128)
    end: str = Field(min_length=1, max_length=128)
    n: int = Field(default=10, ge=2, le=100, description="Songs in the path, both ends included")
    within: list[str] | None = Field(
        default=None, max_length=WITHIN_MAX, description="Only these songs may be stepped on (None: any)"
    )


class SonicPathResponse(BaseModel):
    """The path, ``start`` first and ``end`` last, no song twice; ``score`` is the cosine similarity to ``start``."""

    model_version: str | None = None
    items: list[SimilarSong]


class MatchSegment(BaseModel):
    """A passage of the query clip matched to a passage of a song (seconds)."""

    query_start: float
    query_end: float
    song_start: float
    song_end: float
    score: float


class ClipMatch(BaseModel):
    song_id: str
    score: float
    segments: list[MatchSegment] = Field(default_factory=list)


class ClipQueryResponse(BaseModel):
    """``POST /query`` of audio_service: songs matching an uploaded clip."""

    model_version: str | None = None
    items: list[ClipMatch]


class VersionItem(BaseModel):
    """A song that may be a version of the asked one (or borrow from it): its best shared passage."""

    song_id: str
    score: float = Field(
        description="How surely the two play the same music: the version model's passage similarity (each passage's "
        "best match in the other song, averaged both ways) plus 0.1 x their Qmax alignment; listed above threshold"
    )
    coverage: float = Field(description="Share of the asked song's passages that found this song (0-1)")
    query_start: float = Field(description="Seconds: the passage in the asked song ...")
    song_start: float = Field(description="... and in this one")


class VersionsResponse(BaseModel):
    """``GET /versions/{song_id}`` of audio_service. ``ready``: the song's passages are indexed (false while
    a new song waits for its turn: ask again later)."""

    song_id: str
    model_version: str | None
    threshold: float
    ready: bool
    items: list[VersionItem]


class HumMatchItem(BaseModel):
    """A song whose melody matches a hummed or sung query, and where."""

    song_id: str
    score: float = Field(description="1 / (1 + mean distance in semitones): 1 is a perfect match")
    song_start: float
    song_end: float
    transpose_semitones: float = Field(description="How far the song's melody is from the query's key")
    tempo_ratio: float = Field(description="The song's speed relative to the query")


class HumResponse(BaseModel):
    """``POST /hum`` of audio_service: songs whose melody the query hums, best first."""

    n_melodies: int
    sung_s: float = Field(description="Seconds of the query in which a pitch was heard")
    items: list[HumMatchItem]


class ComparePassage(BaseModel):
    """A passage two recordings share: seconds in each, and how ``b`` is played there relative to ``a``."""

    a_start: float
    a_end: float
    b_start: float
    b_end: float
    transpose_semitones: int = Field(description="Semitones ``b`` is transposed from ``a`` (-5..+6)")
    tempo_ratio: float = Field(description="``b``'s speed relative to ``a`` (0.9: ``b`` is 10 % slower)")
    score: float = Field(description="Mean cosine of the two chroma sequences along the passage (0-1)")


class CompareResponse(BaseModel):
    """``POST /compare`` of audio_service: what two recordings share (the plagiarism check).

    ``matrix`` is the cross-similarity of the two chroma sequences at the chosen key and tempo, rows = ``a``'s
    time, columns = ``b``'s, downsampled to at most 128 x 128, values 0-1 (for a picture).
    """

    similarity: float = Field(description="The best passage's score; 0 when no passage reaches the threshold")
    threshold: float
    transpose_semitones: int
    tempo_ratio: float
    a_duration_s: float
    b_duration_s: float
    passages: list[ComparePassage]
    matrix: list[list[float]]


class AddSongResponse(BaseModel):
    """``POST /songs`` of audio_service: the new song's id in the index."""

    song_id: str
    audio_path: str
    index_size: int


class MapPoint(BaseModel):
    song_id: str
    x: float
    y: float
    collection: str | None = None


class MapResponse(BaseModel):
    """``GET /map`` of audio_service: a 2-D projection of every catalog song's embedding."""

    points: list[MapPoint]


# --- library analysis (gateway -> audio_service) ---------------------------------------------

AUDIO_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class LibraryFileIn(BaseModel):
    """One file of the music folder to analyse: the id it gets in the audio index and its absolute path."""

    audio_id: str = Field(min_length=1, max_length=128, pattern=AUDIO_ID_PATTERN)
    path: str = Field(min_length=1, max_length=4096)
    title: str | None = Field(default=None, max_length=512)
    artist: str | None = Field(default=None, max_length=512)


class LibraryAnalyzeRequest(BaseModel):
    """``POST /library/analyze`` of audio_service: files to embed and index in the background."""

    items: list[LibraryFileIn] = Field(max_length=5000)


class RejectedFile(BaseModel):
    audio_id: str
    reason: str


class LibraryAnalyzeResponse(BaseModel):
    """What happened to a submission: queued now, already indexed or queued, refused (with why)."""

    queued: int
    already: int
    rejected: list[RejectedFile] = Field(default_factory=list)


class AnalysisError(BaseModel):
    audio_id: str
    reason: str


class LibraryStatusResponse(BaseModel):
    """``GET /library/status`` of audio_service: the background analysis of library files."""

    enabled: bool = Field(description="Whether audio_service can read a music folder (MUSIC_DIR)")
    queued: int
    running: str | None = None
    done: int = Field(description="Files analysed since the service started")
    failed: int
    indexed: int = Field(description="Songs in the audio index, catalog included")
    songs_per_minute: float | None = None
    eta_s: float | None = Field(default=None, description="Estimated seconds until the queue is empty")
    errors: list[AnalysisError] = Field(default_factory=list, description="The latest failures")
