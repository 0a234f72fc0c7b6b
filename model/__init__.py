"""The in-house model (arrives with its own issue): reads observations, emits actions."""
