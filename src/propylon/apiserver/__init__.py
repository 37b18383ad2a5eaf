"""propylon.apiserver."""
