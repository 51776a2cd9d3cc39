"""The tables, and the version of their layout (kept in ``meta``; a server refuses a database
of another version rather than misread it).

Every fen lives in exactly one account: an asset's free balance (kind ``debtor``), a
freeze's hold (``frozen``), a control's money on its way while an agency processes it
(``pending``), a case's court account (``court``), or what another authority took ahead of
a waiting freeze (``other``). Accounts of a case name it (``case_id``), so money can be
counted per case as well as per account. Money moves only between accounts, each move one
journal entry naming what moved it: a control, or a named system event
(:mod:`load.api.ledger`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

SCHEMA_VERSION = 2  # 1: the layout before durable restarts (no version kept)
OPEN_CONTROL = "(NOT acted OR NOT duplicate_seen)"

# An id column: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (the rowid, autoincrementing) on
# SQLite, where only the exact type name INTEGER makes a column the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

courts = Table(
    "courts",
    metadata,
    Column("court_id", String(64), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
)

debtors = Table(
    "debtors",
    metadata,
    Column("debtor_id", String(32), primary_key=True),
    Column("region", String(64), nullable=False),
)

assets = Table(
    "assets",
    metadata,
    Column("asset_id", String(48), primary_key=True),
    Column("debtor_id", String(32), ForeignKey("debtors.debtor_id"), nullable=False, index=True),
    Column("asset_type", String(32), nullable=False),
    Column("agency", String(64)),  # None: no agency holds records of this type
    Column("initial_fen", BigInteger, nullable=False),
    # provident-fund annual cap: deducted (or on its way) so far in cap_year (calendar year)
    Column("cap_year", Integer, nullable=False, default=0),
    Column("cap_used_fen", BigInteger, nullable=False, default=0),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # debtor | frozen | pending | court | other
    Column("case_id", BigInteger, index=True),  # the case it belongs to (debtor, other: none)
    Column("balance_fen", BigInteger, nullable=False),
    CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
)

journal = Table(
    "journal",
    metadata,
    Column("entry_id", Id, primary_key=True, autoincrement=True),
    # what moved the money: "control" (a control, at once), "reserve" / "settle" / "refund"
    # (a control an agency processes), "release" (an unfreeze an agency carried out),
    # "lapse" (a freeze expired unrenewed), "take_effect" (a waiting freeze began to hold),
    # "other_authority" (the earlier authority took its share before a waiting freeze)
    Column("event", String(16), nullable=False),
    Column("control_id", BigInteger),  # the control, for every event a control caused
    Column("freeze_id", BigInteger),  # the freeze, for the events of a freeze
    Column("case_id", BigInteger, nullable=False),
    Column("debit_account", String(64), nullable=False),  # money leaves this account
    Column("credit_account", String(64), nullable=False),  # and arrives here
    Column("amount_fen", BigInteger, nullable=False),
    Column("sim_time", Float, nullable=False),
    CheckConstraint("amount_fen > 0", name="amount_positive"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", Id, primary_key=True, autoincrement=True),
    Column("court_id", String(64), ForeignKey("courts.court_id"), nullable=False),
    Column("debtor_id", String(32), ForeignKey("debtors.debtor_id"), nullable=False),
    Column("claim_fen", BigInteger, nullable=False),
    Column("created_utc", String(32), nullable=False),
)

queries = Table(
    "queries",
    metadata,
    Column("query_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("channel", String(16), nullable=False),
    Column("sent_sim", Float, nullable=False),
    Column("answer_at_sim", Float, nullable=False),  # every agency answered (or gave up on)
    # each agency it went to, as JSON: [[agency, picked up, its answer arrives (null: lost),
    # the API stops waiting (null: no fault mode)], ...]; read with the query, in one row
    Column("agencies", Text, nullable=False),
)

findings = Table(
    "findings",
    metadata,
    Column("query_id", BigInteger, ForeignKey("queries.query_id"), primary_key=True),
    Column("asset_id", String(48), ForeignKey("assets.asset_id"), primary_key=True),
    Column("case_id", BigInteger, nullable=False),
    Column("agency", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("answer_at_sim", Float, nullable=False),  # its agency's answer (lost: never)
    Column("balance_fen", BigInteger, nullable=False),  # as the record says
    Column("wrong", Boolean, nullable=False),  # a wrong or stale record
    Column("online_freeze", Boolean, nullable=False),
    Column("online_deduct", Boolean, nullable=False),
    Index("findings_case_asset", "case_id", "asset_id"),
)

freezes = Table(
    "freezes",
    metadata,
    Column("freeze_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False),
    Column("asset_id", String(48), ForeignKey("assets.asset_id"), nullable=False),
    Column("control_id", BigInteger, nullable=False),  # the freeze control that made it
    Column("channel", String(16), nullable=False),
    Column("online_freeze", Boolean, nullable=False),
    Column("online_deduct", Boolean, nullable=False),
    Column("amount_fen", BigInteger, nullable=False),  # asked for (held: its account)
    Column("frozen_sim", Float, nullable=False),  # registered
    Column("effective_sim", Float),  # took hold (None: not yet)
    Column("expires_sim", Float),  # None until it holds
    # pending (with the agency) | active | waiting (轮候, in line) | released | lapsed | failed
    Column("status", String(16), nullable=False),
    Column("ended_sim", Float),
    Column("external_release_sim", Float),  # waiting behind another authority until then
    Column("external_share", Float),  # what that authority leaves, as a share
    Column("external_held_fen", BigInteger),  # what that authority holds meanwhile
    Index("freezes_case_asset", "case_id", "asset_id"),
    Index("freezes_asset_status", "asset_id", "status"),
)

controls = Table(
    "controls",
    metadata,
    Column("control_id", Id, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("asset_id", String(48), nullable=False),
    Column("action", String(16), nullable=False),
    Column("amount_fen", BigInteger),  # money moved (None for a refusal, a renewal)
    # frozen|waiting|renewed|unfrozen|deducted, a refusal code, a failure reason, or None
    # while an agency has it
    Column("outcome", String(32)),
    Column("status", String(16), nullable=False),  # refused | done | failed | with_agency
    Column("freeze_id", BigInteger),
    Column("freeze_expires_sim", Float),  # the freeze's expiry when this control acted
    Column("sim_time", Float, nullable=False),  # made (submitted)
    Column("cap_year", Integer),
    Column("created_utc", String(32), nullable=False),
    # the agency's timeline, fixed when the control is made (scenario mode; else None)
    Column("pickup_sim", Float),
    Column("act_sim", Float),  # it acts (the money moves)
    Column("reply_sim", Float),  # its answer arrives (None: lost)
    Column("deadline_sim", Float),  # the API stops waiting (None: waits for ever)
    Column("duplicate_sim", Float),  # a second copy of its answer arrives
    Column("inquired_sim", Float),  # asked again (a retry of an unknown control)
    Column("fate", String(8)),  # what the agency will do: done | failed (drawn when made)
    Column("acted", Boolean, nullable=False),
    Column("duplicate_seen", Boolean, nullable=False),
    # the controls an agency still has something to do or say about (a partial index: a
    # control done at once, the only kind with controls = "instant", costs no index write;
    # a statement uses it by naming OPEN_CONTROL among its conditions, word for word)
    Index(
        "controls_open",
        "asset_id",
        sqlite_where=text(OPEN_CONTROL),
        postgresql_where=text(OPEN_CONTROL),
    ),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("court_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("control_id", BigInteger),
)

# The audit log: one HMAC chain per shard (cases spread over shards by id), so controls of
# different cases do not wait for one head row; a signed checkpoint kept outside the
# database seals every chain's head (load.api.audit, load.api.checkpoint).
audit = Table(
    "audit",
    metadata,
    # in the order appended: a chain's entries in order of seq (one index, written in order)
    Column("entry_id", Id, primary_key=True, autoincrement=True),
    Column("shard", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at_utc", String(32), nullable=False),
    Column("sim_time", Float, nullable=False),
    Column("court", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=False),
    Column("outcome", String(64), nullable=False),
    Column("amount_fen", BigInteger),  # money moved, with the two accounts
    Column("debit_account", String(64)),
    Column("credit_account", String(64)),
    Column("count", Integer, nullable=False),  # >1: refused requests counted together
    Column("prev_mac", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("shard", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("mac", String(64), nullable=False),
)
