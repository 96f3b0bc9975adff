"""The demo workspace: invented shops, customers and conversations to try the app without a mailbox."""

from __future__ import annotations


def demo_conversation_count() -> int:
    """How many demo conversations the open profile holds already (0: the demo was never loaded).

    Both ``inbox-app demo`` and "Try the demo" check this first, so running the demo twice does not silently
    double the workspace.
    """
    from inbox_app.demo.generator import DEMO_ACCOUNT_KIND
    from inbox_app.store.models import Account, Conversation

    return int(
        Conversation.select()
        .join(Account, on=(Conversation.account == Account.id))
        .where(Account.kind == DEMO_ACCOUNT_KIND)
        .count()
    )
