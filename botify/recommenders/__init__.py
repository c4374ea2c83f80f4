"""botify.recommenders."""
