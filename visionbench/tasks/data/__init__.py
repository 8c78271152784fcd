"""tasks/data."""
