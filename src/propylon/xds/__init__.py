"""propylon.xds."""
