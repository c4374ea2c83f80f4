"""botify.service."""
