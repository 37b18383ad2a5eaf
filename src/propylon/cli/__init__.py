"""propylon.cli."""
