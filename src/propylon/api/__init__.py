"""propylon.api."""
