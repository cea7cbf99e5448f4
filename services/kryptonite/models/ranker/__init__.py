"""Stage two of the served pipeline: features from stage one and the ranker over them."""
