"""sim.envs."""
