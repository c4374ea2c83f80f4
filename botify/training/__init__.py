"""botify.training."""
