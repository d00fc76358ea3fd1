"""The store's tables, shared by SQLite and PostgreSQL.

Timestamps are stored in UTC. SQLite hands them back without a zone, so the
store attaches UTC when it reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from parley.store.encryption import EncryptedJSON, EncryptedText

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY, so ids are BIGINT on
# PostgreSQL and INTEGER on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp, stored in UTC on every database.

    SQLite keeps no offset: without this, 10:15-05:00 would be stored as
    10:15 and read back as 10:15 UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Convert a value to UTC before it is written."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given; pass a timezone-aware one"
            )
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        """Attach UTC to a value SQLite returned without an offset."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


Timestamp = UTCDateTime()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", Timestamp, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("first_name", EncryptedText("contacts.first_name")),
    Column("last_name", EncryptedText("contacts.last_name")),
    Column("email", EncryptedText("contacts.email")),
    Column("phone", EncryptedText("contacts.phone")),
    Column("time_zone", String(64)),
    Column("fields", EncryptedJSON("contacts.fields"), nullable=False, default=dict),
    Column("sources", JSON, nullable=False, default=dict),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

contact_addresses = Table(
    "contact_addresses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("value", EncryptedText("contact_addresses.value"), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    # Added by migration 7: the keyed hash of value, which lookups and the
    # uniqueness of an address use because value is encrypted.
    Column("value_hash", String(64)),
    Index("uq_contact_addresses_kind_value_hash", "kind", "value_hash", unique=True),
)

# Added by migration 3: each plugin's latest record of a contact, from
# lookups and contact syncs. The contacts row is the merge of these.
contact_sources = Table(
    "contact_sources",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("source", String(64), nullable=False),
    Column("external_id", String(200)),
    Column("record", EncryptedJSON("contact_sources.record"), nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("contact_id", "source", name="uq_contact_sources_contact_source"),
    Index("ix_contact_sources_external", "source", "external_id"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False, index=True),
    Column("channel", String(64), nullable=False),
    Column("address", EncryptedText("conversations.address"), nullable=False),
    Column("state", String(16), nullable=False, default="open"),
    Column("opened_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    # Added by migration 4: the current assignment and when the conversation
    # was last closed. Their history is in conversation_assignments and
    # conversation_states.
    Column("assigned_agent", String(64)),
    Column("assigned_team", String(64)),
    Column("closed_at", Timestamp),
    # Added by migration 7: the keyed hash of address, for lookups.
    Column("address_hash", String(64)),
    Index("ix_conversations_updated", "updated_at", "id"),
    Index(
        "uq_conversations_channel_address_hash", "channel", "address_hash", unique=True
    ),
    Index("ix_conversations_address_hash", "address_hash"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("conversation_id", Id, ForeignKey("conversations.id"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("body", EncryptedText("messages.body"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text),
    Column("error_code", String(32)),
    Column("provider_message_id", String(128)),
    Column("dedupe_key", String(400)),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Column("updated_at", Timestamp, nullable=False),
    # Added by migration 3: template field values a channel asked for, for
    # provider templates outside a customer-service window.
    Column("fields", EncryptedJSON("messages.fields")),
    # Added by migration 4: the API token name of the person who wrote an
    # agent reply.
    Column("author", String(64)),
    UniqueConstraint("channel", "provider_message_id", name="uq_messages_provider_id"),
    UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),
    Index("ix_messages_conversation", "conversation_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("message_id", Id, ForeignKey("messages.id"), primary_key=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", Timestamp),
    Column("last_error", Text),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_outbox_due", "next_attempt_at"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("delivery_id", String(200), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("events", Integer, nullable=False),
    Column("received_at", Timestamp, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(400), nullable=False),
    Column("payload", EncryptedJSON("events.payload"), nullable=False),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("claimed_by", String(64)),
    Column("claimed_until", Timestamp),
    Column("last_error", Text),
    Column("received_at", Timestamp, nullable=False),
    Column("processed_at", Timestamp),
    # Added by migration 2: what processing the event led to, for audits.
    Column("outcome", Text),
    UniqueConstraint("dedupe_key", name="uq_events_dedupe_key"),
    Index("ix_events_due", "status", "next_attempt_at"),
)

consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=True),
    Column("channel", String(64), nullable=False),
    Column("address", EncryptedText("consent_records.address"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("evidence", EncryptedText("consent_records.evidence")),
    Column("recorded_at", Timestamp, nullable=False),
    # Added by migration 7: the keyed hash of address, for lookups.
    Column("address_hash", String(64)),
    Index("ix_consent_address_hash", "address_hash", "id"),
)

plugin_state = Table(
    "plugin_state",
    metadata,
    Column("plugin_id", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("value", EncryptedText("plugin_state.value"), nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)


# Tables added by migration 4: the support desk.

conversation_assignments = Table(
    "conversation_assignments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("conversation_id", Id, ForeignKey("conversations.id"), nullable=False),
    Column("agent", String(64)),
    Column("team", String(64)),
    Column("actor", String(64), nullable=False),
    Column("assigned_at", Timestamp, nullable=False),
    Index("ix_conversation_assignments_conversation", "conversation_id", "id"),
)

conversation_states = Table(
    "conversation_states",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("conversation_id", Id, ForeignKey("conversations.id"), nullable=False),
    Column("previous_state", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("changed_at", Timestamp, nullable=False),
    Index("ix_conversation_states_conversation", "conversation_id", "id"),
)

conversation_notes = Table(
    "conversation_notes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("conversation_id", Id, ForeignKey("conversations.id"), nullable=False),
    Column("author", String(64), nullable=False),
    Column("body", EncryptedText("conversation_notes.body"), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Index("ix_conversation_notes_conversation", "conversation_id", "created_at"),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("name", name="uq_contact_lists_name"),
)

contact_list_members = Table(
    "contact_list_members",
    metadata,
    Column("list_id", Id, ForeignKey("contact_lists.id"), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id"), primary_key=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", Timestamp, nullable=False),
    Index("ix_contact_list_members_contact", "contact_id"),
)

# Only the SHA-256 hash of a token is kept. A name is unique among tokens
# that are not revoked, so a person can get a new token under the same name.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("team", String(64)),
    Column("token_hash", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
    UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    Index(
        "uq_api_tokens_active_name",
        "name",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

# Append-only: migration 4 adds triggers that reject UPDATE and DELETE.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("occurred_at", Timestamp, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("conversation_id", Id),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_log_conversation", "conversation_id", "id"),
    Index("ix_audit_log_occurred", "occurred_at", "id"),
)

# Added by migration 5: customer satisfaction surveys, one per closing of a
# conversation. The score and comment stay empty until the customer answers.
# state is one of:
#   pending    waiting for the quiet delay after the closing or for the
#              recipient's sending window; nothing sent yet
#   sent       survey message queued at sent_at (message_id); answers count
#              until expires_at. The outbox may still block or fail it: the
#              message's status tells whether the channel accepted it.
#   answered   score (1 to 5) recorded at answered_at; comment is optional
#   expired    no score before expires_at, or not sent in time, or replaced
#              by a newer survey of the same conversation
#   blocked    the send gate or the template blocked the survey; message_id
#              is the blocked message, whose status_reason says why
#   cancelled  the conversation was reopened before the survey went out
# Only surveys that reached the outbox have a sent_at, so the response rate
# is answered surveys divided by surveys with a sent_at.
# agent is the conversation's assigned agent at the closing, else the actor
# who closed it. clarified is 1 once the clarification was sent.
csat_surveys = Table(
    "csat_surveys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("conversation_id", Id, ForeignKey("conversations.id"), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id"), nullable=False),
    Column("channel", String(64), nullable=False),
    # The conversation_states row of the closing that asked for the survey,
    # so that one closing never sends two surveys.
    Column("closing_id", Id, nullable=False),
    Column("message_id", Id, ForeignKey("messages.id")),
    Column("state", String(16), nullable=False),
    Column("agent", String(64)),
    Column("score", Integer),
    # The customer's own words, so encrypted like message bodies.
    Column("comment", EncryptedText("csat_surveys.comment")),
    Column("clarified", Integer, nullable=False, default=0),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Column("answered_at", Timestamp),
    Column("expires_at", Timestamp),
    UniqueConstraint("closing_id", name="uq_csat_surveys_closing"),
    Index("ix_csat_surveys_conversation", "conversation_id", "state"),
)

# Added by migration 6: one row per automation run, planned when its trigger
# fires and executed by the automation job once due. The dedupe key names the
# automation and the trigger occurrence, so a redelivered event or a retried
# transaction never plans a second run for the same occurrence.
automation_runs = Table(
    "automation_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("automation", String(100), nullable=False),
    Column("trigger_kind", String(64), nullable=False),
    Column("dedupe_key", String(300), nullable=False),
    Column("conversation_id", Id, ForeignKey("conversations.id")),
    Column("contact_id", Id, ForeignKey("contacts.id")),
    # What the actions need from the trigger: the channel, ids, and for an
    # order-status trigger the order event with the customer's details, so
    # it is encrypted like the event queue's payloads. Never a message body.
    Column("payload", EncryptedJSON("automation_runs.payload"), nullable=False),
    # pending, running, done, failed or cancelled.
    Column("status", String(16), nullable=False),
    Column("due_at", Timestamp, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # How many actions have finished, so a retry resumes after them.
    Column("actions_done", Integer, nullable=False, default=0),
    Column("claimed_by", String(100)),
    Column("claimed_until", Timestamp),
    Column("outcome", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    UniqueConstraint("dedupe_key", name="uq_automation_runs_dedupe_key"),
    Index("ix_automation_runs_due", "status", "due_at"),
    Index("ix_automation_runs_conversation", "conversation_id"),
)

# Added by migration 7: the lookup hash key, wrapped under each data key the
# store still uses. A row whose key cannot unwrap it means a wrong key.
encryption_keys = Table(
    "encryption_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("wrapped_hash_key", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

# Added by migration 7: how far `parley keys rotate` got in each table, so
# an interrupted rotation resumes after the last batch it committed.
key_rotations = Table(
    "key_rotations",
    metadata,
    Column("table_name", String(64), primary_key=True),
    Column("target_key_id", String(32), nullable=False),
    Column("last_key", Text, nullable=False),
    Column("rows_done", Integer, nullable=False, default=0),
    Column("updated_at", Timestamp, nullable=False),
)
