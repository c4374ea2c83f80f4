"""sim.world."""
