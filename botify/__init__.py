"""botify: a music recommender service and its experiment toolkit."""

__version__ = "0.1.0"
