"""propylon.xds.server."""
