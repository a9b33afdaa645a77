"""Reference systems the product is measured against (evaluation only, never served)."""

from cf_service.core.baselines.seedvote import SeedVote

__all__ = ["SeedVote"]
