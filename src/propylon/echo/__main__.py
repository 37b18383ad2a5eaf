"""`python -m propylon.echo [--bind HOST]`: `propylon.echo.command.main`."""

import sys

from propylon.echo.command import main

sys.exit(main())
