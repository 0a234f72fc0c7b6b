"""The agent layer: the loop, policies, recordings, replay, the viewer and the CLI."""
