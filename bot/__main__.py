"""Entry point for `python -m bot`."""

import sys

from bot.commands.main import main

sys.exit(main())
