"""The machine a run ran on: host facts, the dependency lock, venvs built from a lock."""
