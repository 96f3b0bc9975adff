"""The mirakl sandbox lives in the package now (``inbox_app.sandboxes.mirakl``: ``inbox-app demo --live`` starts it
too); this name stays so the tests and benchmarks that import it keep working."""

import sys

from inbox_app.sandboxes import mirakl as _sandbox

if __name__ == "__main__":  # python -m tests.servers.mirakl (benchmarks)
    _sandbox.main()
else:
    sys.modules[__name__] = _sandbox  # the same module object: every name and its state, not copies
