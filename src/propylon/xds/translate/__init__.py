"""propylon.xds.translate."""
