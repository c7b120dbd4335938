"""paperwire: a self-hostable daily papers service (browse, search, upvote, email digests)."""

__version__ = "0.1.0"
