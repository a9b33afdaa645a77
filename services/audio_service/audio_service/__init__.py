"""Audio similarity service: songs that sound alike, for a catalog song or an uploaded clip."""

__version__ = "0.1.0"
