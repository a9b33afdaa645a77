"""Pure recommendation core of cf_service (numpy / scipy / pandas / surprise / implicit only).

Entry points for the HTTP layer::

    from cf_service.core import load_current, model_info
    vote = load_current(model_dir)                      # RankFusionVote
    vote.recommend("user-id", n=10)                     # Recommendations (fallback="popular" if unknown)
    vote.recommend_for_history([("SO...", 3)], n=10)    # fold-in for an unseen user
    vote.similar_items("SO...", n=10)                   # SimilarSongs
    vote.popular(n=10)                                  # Recommendations(fallback="popular")
    model_info(vote)                                    # version, trained_at, n_users, n_songs, ...
"""

from cf_service.core.artifacts import current_version, load_current, load_version, model_info, save_version
from cf_service.core.baselines.seedvote import SeedVote
from cf_service.core.data import Interactions, as_interactions, read_interactions, to_trainset
from cf_service.core.members import ALS, EASE, ItemKNN, Member, Popularity, load_member
from cf_service.core.params import DEFAULT_PARAMS
from cf_service.core.ranking import Because, Recommendations, RecommendedSong, SimilarSong, SimilarSongs
from cf_service.core.split import protocol_split, validation_split
from cf_service.core.training import TrainResult, train
from cf_service.core.transforms import PreferenceTransform
from cf_service.core.vote import RankFusionVote, build_vote

__all__ = [
    "ALS",
    "DEFAULT_PARAMS",
    "EASE",
    "Because",
    "Interactions",
    "ItemKNN",
    "Member",
    "Popularity",
    "PreferenceTransform",
    "RankFusionVote",
    "Recommendations",
    "RecommendedSong",
    "SeedVote",
    "SimilarSong",
    "SimilarSongs",
    "TrainResult",
    "as_interactions",
    "build_vote",
    "current_version",
    "load_current",
    "load_member",
    "load_version",
    "model_info",
    "protocol_split",
    "read_interactions",
    "save_version",
    "to_trainset",
    "train",
    "validation_split",
]
