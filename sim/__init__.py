"""The simulator: a music world, users with hidden tastes, and agents that play sessions."""
