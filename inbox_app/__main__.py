"""``python -m inbox_app``: the same entry point as the ``inbox-app`` command."""

import sys

from inbox_app.cli import main

sys.exit(main())
