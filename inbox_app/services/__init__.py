"""The application's verbs and queries: the only layer ui/ and cli/ call (see STYLE.md)."""
