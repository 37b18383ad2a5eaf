"""propylon.ir."""
