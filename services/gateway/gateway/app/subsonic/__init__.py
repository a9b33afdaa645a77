"""The Subsonic / OpenSubsonic API's methods (the route is :mod:`gateway.app.routes.subsonic`).

- :mod:`.protocol`: one request's parameters and user (:class:`~.protocol.Call`), the method registries.
- :mod:`.auth`: ``u`` + ``p``, ``u`` + ``t`` + ``s`` (app passwords) and ``apiKey``, under the login limits.
- :mod:`.browse`: what apps browse, list and search (the playable catalog), streaming and cover art.
- :mod:`.annotate`: stars, ratings, scrobbles, now playing, playlists, play queue, the user.
- :mod:`.discovery`: similar songs, top songs, artist info and the ``sonicSimilarity`` extension.
"""
