"""propylon.controller."""
