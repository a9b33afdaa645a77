"""The product's public API: accounts, catalog, plays, ratings and fused recommendations."""

__version__ = "0.1.0"
