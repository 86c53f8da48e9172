"""The feedback store: every card the service showed (its kind, code, rules, the knowledge base and the hook
instance) and what the clinician did with it (accepted, overridden and the coded reason, when).

No patient data: no patient or user id, no case values, no free text (a user comment may name the patient,
so it is not kept). SQLite by default (a file), PostgreSQL for a `postgresql://` URL, both through
SQLAlchemy Core. The schema is versioned: `migrate()` applies, in order and once, every migration the
database has not had (recorded in `cdss_schema_version`), so a store made by an older cdss is upgraded in
place and a newer one is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy as sa
from attrs import frozen

from cdss.errors import CdssError

metadata = sa.MetaData()

schema_version = sa.Table("cdss_schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))

card_shown = sa.Table(
    "card_shown", metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("hook_instance", sa.String(100), nullable=False),
    sa.Column("service", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("code", sa.String(100), nullable=False),
    sa.Column("indicator", sa.String(20), nullable=False),
    sa.Column("kb_version", sa.String(40), nullable=False),
    sa.Column("kb_sha256", sa.String(64), nullable=False),
    sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
)

card_rule = sa.Table(
    "card_rule", metadata,
    sa.Column("card_uuid", sa.String(36), sa.ForeignKey("card_shown.uuid"), nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.PrimaryKeyConstraint("card_uuid", "rule"),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("card_uuid", sa.String(36), sa.ForeignKey("card_shown.uuid"), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason_system", sa.String(300)),
    sa.Column("reason_code", sa.String(100)),
    sa.Column("accepted_suggestions", sa.Integer, nullable=False, default=0),
    sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)


def _v1(connection: sa.Connection) -> None:
    for table in (card_shown, card_rule, feedback):
        table.create(connection)


def _v2(connection: sa.Connection) -> None:
    """Indexes for the report's per-rule and per-card questions (plain DDL: an sa.Index would attach itself
    to the table and be created again by a later v1)."""
    connection.execute(sa.text("CREATE INDEX card_rule_by_rule ON card_rule (rule)"))
    connection.execute(sa.text("CREATE INDEX feedback_by_card ON feedback (card_uuid)"))


MIGRATIONS: tuple[Callable[[sa.Connection], None], ...] = (_v1, _v2)


class StoreError(CdssError):
    """The feedback store cannot be opened or used (named by its URL, never its password)."""


@frozen
class Shown:
    uuid: str
    hook_instance: str
    service: str
    kind: str
    code: str
    indicator: str
    rules: tuple[str, ...]
    kb_version: str
    kb_sha256: str


def url_of(target: str) -> str:
    """A SQLAlchemy URL for `--db`: a file path (SQLite) or a postgresql:// URL (psycopg 3)."""
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    if target.startswith(("postgresql+", "sqlite:")):
        return target
    return "sqlite:///" + str(Path(target).expanduser().resolve())


def safe_name(target: str) -> str:
    """The store's name for messages: a URL without its password."""
    try:
        return sa.engine.make_url(url_of(target)).render_as_string(hide_password=True)
    except Exception:
        return "<the --db value>"


class Store:
    """One feedback database."""

    def __init__(self, target: str):
        self.name = safe_name(target)
        url = url_of(target)
        try:
            if url.startswith("sqlite"):
                self.engine = sa.create_engine(url, connect_args={"timeout": 30})
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)
        except Exception as error:  # a malformed URL, a missing driver
            raise StoreError(f"{self.name}: cannot open the feedback store: {error}") from None

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns the version."""
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":  # two processes starting at once: one migrates
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(7340031)"))
                schema_version.create(connection, checkfirst=True)
                current = connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0
                if current > len(MIGRATIONS):
                    raise StoreError(f"{self.name}: the feedback store has schema version {current}, newer than this "
                                     f"cdss knows ({len(MIGRATIONS)}); upgrade cdss")
                for number in range(current + 1, len(MIGRATIONS) + 1):
                    MIGRATIONS[number - 1](connection)
                    connection.execute(schema_version.insert().values(version=number))
                return len(MIGRATIONS)
        except StoreError:
            raise
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(f"{self.name}: cannot prepare the feedback store: {_short(error)}") from None

    def version(self) -> int:
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("cdss_schema_version"):
                return 0
            return connection.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0

    def record_shown(self, cards: Iterable[Shown], when: dt.datetime) -> None:
        rows = list(cards)
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(card_shown.insert(), [
                {"uuid": c.uuid, "hook_instance": c.hook_instance, "service": c.service, "kind": c.kind,
                 "code": c.code, "indicator": c.indicator, "kb_version": c.kb_version, "kb_sha256": c.kb_sha256,
                 "shown_at": when} for c in rows])
            pairs = [{"card_uuid": c.uuid, "rule": rule} for c in rows for rule in dict.fromkeys(c.rules)]
            if pairs:
                connection.execute(card_rule.insert(), pairs)

    def known_cards(self, uuids: list[str]) -> set[str]:
        with self.engine.connect() as connection:
            found = connection.execute(sa.select(card_shown.c.uuid).where(card_shown.c.uuid.in_(uuids)))
            return {row[0] for row in found}

    def record_feedback(self, items: list[dict], when: dt.datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(feedback.insert(), [dict(item, received_at=when) for item in items])

    def rows(self):
        """Everything the report needs: (card uuid, service, kind, code, kb version, rules, outcomes)."""
        with self.engine.connect() as connection:
            cards = {row.uuid: {"service": row.service, "kind": row.kind, "code": row.code,
                                "kb_version": row.kb_version, "rules": [], "outcomes": []}
                     for row in connection.execute(sa.select(card_shown).order_by(card_shown.c.shown_at, card_shown.c.uuid))}
            for row in connection.execute(sa.select(card_rule).order_by(card_rule.c.card_uuid, card_rule.c.rule)):
                if row.card_uuid in cards:
                    cards[row.card_uuid]["rules"].append(row.rule)
            for row in connection.execute(sa.select(feedback).order_by(feedback.c.id)):
                if row.card_uuid in cards:
                    cards[row.card_uuid]["outcomes"].append({"outcome": row.outcome, "reason_code": row.reason_code,
                                                             "reason_system": row.reason_system})
        return cards

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _short(error: Exception) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
