"""Tables of the mail sync that the core schema does not need: the subject-threading index.

Why a table and not ``Conversation.extra``: threading by subject asks "which conversation of this account had
this normalized subject with one of these participants since <date>?" once per new mail; a JSON scan over
every conversation would make a 20,000-message first sync quadratic. One row per (message, participant) with an
index on (account, subject, participant) answers it in microseconds.

``create_mail_tables(db)`` is idempotent; the lead's migrations call it, and the sync also calls it before
first use so an older profile works without a schema bump.
"""

from __future__ import annotations

import peewee

from inbox_app.store.db import BaseModel
from inbox_app.store.models import Account, Conversation, UtcDateTimeField


class MailThreadKey(BaseModel):
    account = peewee.ForeignKeyField(Account, on_delete="CASCADE")
    conversation = peewee.ForeignKeyField(Conversation, on_delete="CASCADE")
    subject = peewee.TextField()  # domain.threading.normalize_subject
    participant = peewee.TextField()  # domain.threading.canonical_address
    at = UtcDateTimeField()

    class Meta:
        table_name = "mail_thread_key"
        indexes = ((("account", "subject", "participant", "at"), False),)


MAIL_MODELS: tuple[type[BaseModel], ...] = (MailThreadKey,)


def create_mail_tables(db: peewee.Database) -> None:
    db.create_tables(MAIL_MODELS, safe=True)
