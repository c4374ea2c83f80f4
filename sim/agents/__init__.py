"""sim.agents."""
