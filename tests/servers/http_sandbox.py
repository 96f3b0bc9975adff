"""The http_sandbox sandbox lives in the package now (``inbox_app.sandboxes.http_sandbox``: ``inbox-app demo --live`` starts it
too); this name stays so the tests and benchmarks that import it keep working."""

import sys

from inbox_app.sandboxes import http_sandbox as _sandbox

sys.modules[__name__] = _sandbox  # the same module object: every name and its state, not copies
