"""One module of task templates per sim app."""
