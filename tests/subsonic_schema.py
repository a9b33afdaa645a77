"""The element and attribute structure of the Subsonic REST API 1.16.1 schema (``subsonic-rest-api.xsd``), for
checking XML answers: which attributes each type has, which are required, their XSD types, and which child
elements hold which type. OpenSubsonic adds attributes to some types (``mediaType``, ``played`` …); they are
listed apart, as the OpenSubsonic specification allows them in 1.16.1 answers.
"""

from __future__ import annotations

import datetime as dt
import re
from xml.etree import ElementTree as ET

NS = "{http://subsonic.org/restapi}"

CHILD = {
    "id": ("string", True),
    "parent": ("string", False),
    "isDir": ("boolean", True),
    "title": ("string", True),
    "album": ("string", False),
    "artist": ("string", False),
    "track": ("int", False),
    "year": ("int", False),
    "genre": ("string", False),
    "coverArt": ("string", False),
    "size": ("long", False),
    "contentType": ("string", False),
    "suffix": ("string", False),
    "transcodedContentType": ("string", False),
    "transcodedSuffix": ("string", False),
    "duration": ("int", False),
    "bitRate": ("int", False),
    "path": ("string", False),
    "isVideo": ("boolean", False),
    "userRating": ("rating", False),
    "averageRating": ("double", False),
    "playCount": ("long", False),
    "discNumber": ("int", False),
    "created": ("dateTime", False),
    "starred": ("dateTime", False),
    "albumId": ("string", False),
    "artistId": ("string", False),
    "type": ("mediaType", False),
    "bookmarkPosition": ("long", False),
    "originalWidth": ("int", False),
    "originalHeight": ("int", False),
}
ALBUM_ID3 = {
    "id": ("string", True),
    "name": ("string", True),
    "artist": ("string", False),
    "artistId": ("string", False),
    "coverArt": ("string", False),
    "songCount": ("int", True),
    "duration": ("int", True),
    "playCount": ("long", False),
    "created": ("dateTime", True),
    "starred": ("dateTime", False),
    "year": ("int", False),
    "genre": ("string", False),
}
ARTIST_ID3 = {
    "id": ("string", True),
    "name": ("string", True),
    "coverArt": ("string", False),
    "artistImageUrl": ("string", False),
    "albumCount": ("int", True),
    "starred": ("dateTime", False),
}
ROLES = [
    "scrobblingEnabled",
    "adminRole",
    "settingsRole",
    "downloadRole",
    "uploadRole",
    "playlistRole",
    "coverArtRole",
    "commentRole",
    "podcastRole",
    "streamRole",
    "jukeboxRole",
    "shareRole",
    "videoConversionRole",
]
TYPES: dict[str, dict[str, tuple[str, bool]]] = {
    "Response": {
        "status": ("status", True),
        "version": ("version", True),
        # OpenSubsonic's additions to the envelope.
        "type": ("string", False),
        "serverVersion": ("string", False),
        "openSubsonic": ("boolean", False),
    },
    "Error": {"code": ("int", True), "message": ("string", False)},
    "License": {"valid": ("boolean", True), "email": ("string", False), "licenseExpires": ("dateTime", False)},
    "Child": CHILD,
    "AlbumID3": ALBUM_ID3,
    "AlbumWithSongsID3": ALBUM_ID3,
    "ArtistID3": ARTIST_ID3,
    "ArtistWithAlbumsID3": ARTIST_ID3,
    "ArtistsID3": {"ignoredArticles": ("string", True)},
    "Indexes": {"ignoredArticles": ("string", True), "lastModified": ("long", True)},
    "IndexID3": {"name": ("string", True)},
    "Index": {"name": ("string", True)},
    "Artist": {
        "id": ("string", True),
        "name": ("string", True),
        "starred": ("dateTime", False),
        "albumCount": ("int", False),
    },
    "Genre": {"songCount": ("int", True), "albumCount": ("int", True)},
    "User": {"username": ("string", True), "email": ("string", False), **{r: ("boolean", True) for r in ROLES}},
    "Playlist": {
        "id": ("string", True),
        "name": ("string", True),
        "comment": ("string", False),
        "owner": ("string", False),
        "public": ("boolean", False),
        "songCount": ("int", True),
        "duration": ("int", True),
        "created": ("dateTime", True),
        "changed": ("dateTime", True),
        "coverArt": ("string", False),
    },
    "PlayQueue": {
        "current": ("string", False),
        "position": ("long", False),
        "username": ("string", True),
        "changed": ("dateTime", True),
        "changedBy": ("string", True),
    },
    "NowPlayingEntry": CHILD
    | {
        "username": ("string", True),
        "minutesAgo": ("int", True),
        "playerId": ("int", True),
        "playerName": ("string", False),
    },
    "MusicFolder": {"id": ("int", True), "name": ("string", False)},
    "Directory": {
        "id": ("string", True),
        "parent": ("string", False),
        "name": ("string", True),
        "starred": ("dateTime", False),
    },
    "SonicMatch": {"similarity": ("double", True)},  # OpenSubsonic sonicSimilarity
    "OpenSubsonicExtension": {"name": ("string", True)},
    "TokenInfo": {"username": ("string", True)},  # OpenSubsonic apiKeyAuthentication
}
TYPES["Child"] = CHILD
EMPTY = {
    "ArtistInfo2": {},
    "SearchResult3": {},
    "SearchResult2": {},
    "AlbumList2": {},
    "AlbumList": {},
    "Songs": {},
    "SimilarSongs": {},
    "SimilarSongs2": {},
    "TopSongs": {},
    "Starred2": {},
    "Starred": {},
    "Genres": {},
    "Playlists": {},
    "MusicFolders": {},
    "NowPlaying": {},
    "PlaylistWithSongs": TYPES["Playlist"],
    "Folder": {},
}
TYPES |= EMPTY
OPEN_SUBSONIC_EXTRA = {"mediaType", "played", "sortName", "bpm", "comment", "musicBrainzId", "displayArtist"}

# Which type a child element holds, by the parent's type (the schema's sequences).
CHILDREN: dict[str, dict[str, str]] = {
    "Response": {
        "error": "Error",
        "license": "License",
        "musicFolders": "MusicFolders",
        "indexes": "Indexes",
        "artists": "ArtistsID3",
        "artist": "ArtistWithAlbumsID3",
        "album": "AlbumWithSongsID3",
        "song": "Child",
        "directory": "Directory",
        "albumList": "AlbumList",
        "albumList2": "AlbumList2",
        "randomSongs": "Songs",
        "songsByGenre": "Songs",
        "searchResult3": "SearchResult3",
        "searchResult2": "SearchResult2",
        "genres": "Genres",
        "starred2": "Starred2",
        "starred": "Starred",
        "similarSongs": "SimilarSongs",
        "similarSongs2": "SimilarSongs2",
        "topSongs": "TopSongs",
        "artistInfo2": "ArtistInfo2",
        "user": "User",
        "playlists": "Playlists",
        "playlist": "PlaylistWithSongs",
        "playQueue": "PlayQueue",
        "nowPlaying": "NowPlaying",
        "sonicMatch": "SonicMatch",
        "openSubsonicExtensions": "OpenSubsonicExtension",
        "tokenInfo": "TokenInfo",
    },
    "MusicFolders": {"musicFolder": "MusicFolder"},
    "Indexes": {"index": "Index"},
    "Index": {"artist": "Artist"},
    "ArtistsID3": {"index": "IndexID3"},
    "IndexID3": {"artist": "ArtistID3"},
    "ArtistWithAlbumsID3": {"album": "AlbumID3"},
    "AlbumWithSongsID3": {"song": "Child"},
    "Directory": {"child": "Child"},
    "AlbumList": {"album": "Child"},
    "AlbumList2": {"album": "AlbumID3"},
    "Songs": {"song": "Child"},
    "SearchResult3": {"artist": "ArtistID3", "album": "AlbumID3", "song": "Child"},
    "SearchResult2": {"artist": "ArtistID3", "album": "AlbumID3", "song": "Child"},
    "Starred2": {"artist": "ArtistID3", "album": "AlbumID3", "song": "Child"},
    "Starred": {"artist": "ArtistID3", "album": "AlbumID3", "song": "Child"},
    "Genres": {"genre": "Genre"},
    "SimilarSongs": {"song": "Child"},
    "SimilarSongs2": {"song": "Child"},
    "TopSongs": {"song": "Child"},
    "ArtistInfo2": {"similarArtist": "ArtistID3"},
    "User": {"folder": "Folder"},
    "Playlists": {"playlist": "Playlist"},
    "PlaylistWithSongs": {"entry": "Child"},
    "PlayQueue": {"entry": "Child"},
    "NowPlaying": {"entry": "NowPlayingEntry"},
    "SonicMatch": {"entry": "Child"},
}
TEXT_TYPES = {"Genre": "string", "Folder": "int"}


def _valid(kind: str, value: str) -> bool:
    if kind == "string":
        return True
    if kind == "boolean":
        return value in ("true", "false")
    if kind in ("int", "long"):
        return re.fullmatch(r"-?\d+", value) is not None
    if kind == "double":
        return re.fullmatch(r"-?\d+(\.\d+)?([eE]-?\d+)?", value) is not None
    if kind == "rating":
        return value in {"1", "2", "3", "4", "5"}
    if kind == "dateTime":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if kind == "status":
        return value in ("ok", "failed")
    if kind == "version":
        return re.fullmatch(r"\d+\.\d+\.\d+", value) is not None
    if kind == "mediaType":
        return value in ("music", "podcast", "audiobook", "video")
    raise AssertionError(kind)


def check(document: bytes) -> list[str]:
    """Every departure of ``document`` from the schema's structure (empty when it conforms)."""
    problems: list[str] = []
    root = ET.fromstring(document)
    if root.tag != f"{NS}subsonic-response":
        return [f"root element is {root.tag}, not subsonic-response in the Subsonic namespace"]

    def walk(el: ET.Element, kind: str, where: str) -> None:
        attrs = TYPES[kind]
        for name, (_xsd, required) in attrs.items():
            if required and name not in el.attrib:
                problems.append(f"{where}: required attribute {name} missing")
        for name, value in el.attrib.items():
            if name not in attrs:
                if name not in OPEN_SUBSONIC_EXTRA:
                    problems.append(f"{where}: attribute {name} is not in the schema")
                continue
            if not _valid(attrs[name][0], value):
                problems.append(f"{where}: {name}={value!r} is not a {attrs[name][0]}")
        if kind in TEXT_TYPES and not _valid(TEXT_TYPES[kind], el.text or ""):
            problems.append(f"{where}: text {el.text!r} is not a {TEXT_TYPES[kind]}")
        allowed = CHILDREN.get(kind, {})
        for sub in el:
            if not sub.tag.startswith(NS):
                problems.append(f"{where}: element {sub.tag} is outside the Subsonic namespace")
                continue
            tag = sub.tag[len(NS) :]
            if kind == "OpenSubsonicExtension" and tag == "versions":
                continue
            if tag not in allowed:
                problems.append(f"{where}: element {tag} is not allowed in {kind}")
                continue
            walk(sub, allowed[tag], f"{where}/{tag}")

    walk(root, "Response", "subsonic-response")
    return problems
