"""botify.analysis."""
