"""propylon.infra."""
