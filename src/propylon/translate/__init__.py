"""propylon.translate."""
