"""`python -m propylon.echo`: the echo-basic-like server, configured by the environment."""

import sys

from propylon.echo.httpserver import main

sys.exit(main())
