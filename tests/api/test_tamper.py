"""An insider who can write every table of the database, but holds neither the audit key
nor every copy of the audit checkpoint, cannot rewrite the audit log unnoticed.

Against a real server (SQLite and PostgreSQL) whose log holds controls with their amounts
and accounts, each tampering is done straight on the database, verified (the server's
``/v1/admin/audit/verify`` against its own checkpoint, and against a copy an auditor kept),
then undone: editing an entry; deleting the last entries and moving the head back;
truncating a chain; editing an entry and re-hashing the rest of the chain (with the
project's own MAC function and a guessed key); and forging a whole new log, heads and
checkpoint with a key of the forger's own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from load.api import audit, checkpoint
from load.api.db import Database
from load.api.state import CHECKPOINT_FILE
from tests.api.support import PgDatabases, Server, control, find, open_case


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]
)
def logged(
    request: pytest.FixtureRequest, pg: PgDatabases, tmp_path_factory: Any
) -> Iterator[tuple[Server, Database, Path]]:
    tmp = tmp_path_factory.mktemp("tamper")
    url = f"sqlite:///{tmp / 'api.sqlite3'}" if request.param == "sqlite" else pg.new()
    state = tmp / "state"
    srv = Server(tmp, url, state_dir=state)
    db = Database(url, pool_size=2)
    try:
        _, h = srv.court("hunan")
        with srv.client() as c:
            for _ in range(3):
                case = open_case(c, h, srv.debtor("hunan"), 10**12)
                bank = find(c, h, case, "central", "bank_deposit")["asset_id"]
                for action, amount in (("freeze", 10_000), ("deduct", 700), ("deduct", 300)):
                    r = control(c, h, case_id=case, asset_id=bank, action=action, amount_fen=amount)
                    assert r.status_code == 201, r.text
        assert srv.audit_settled()["ok"]
        yield srv, db, state
    finally:
        db.dispose()
        srv.stop()


@pytest.fixture(autouse=True)
def checkpoint_put_back(logged: Any) -> Iterator[None]:
    """After each tampering (and its undoing, in the test), the server's checkpoint file as
    it was before: the server writes one every second, so one may have been written over the
    tampered heads while they stood, and it would outlive the database put back."""
    file = logged[2] / CHECKPOINT_FILE
    saved = file.read_bytes()
    yield
    file.write_bytes(saved)


def rows(db: Database, shard: int) -> list[dict[str, Any]]:
    return db.read(
        lambda c: [
            dict(r._mapping)
            for r in c.execute(
                text("SELECT * FROM audit WHERE shard = :s ORDER BY seq"), {"s": shard}
            )
        ]
    )


def busiest(db: Database) -> int:
    return int(
        db.read(
            lambda c: c.execute(
                text("SELECT shard FROM audit GROUP BY shard ORDER BY count(*) DESC, shard LIMIT 1")
            ).scalar_one()
        )
    )


def put_back(db: Database, shard: int, saved: list[dict[str, Any]]) -> None:
    """Undo: the chain's entries and head as they were."""

    def restore(c: Any) -> None:
        c.execute(text("DELETE FROM audit WHERE shard = :s"), {"s": shard})
        for r in saved:
            names = ", ".join(r)
            c.execute(text(f"INSERT INTO audit ({names}) VALUES (:{', :'.join(r)})"), r)
        last = saved[-1]
        c.execute(
            text("UPDATE audit_heads SET seq = :q, mac = :m WHERE shard = :s"),
            {"q": last["seq"], "m": last["mac"], "s": shard},
        )

    db.write(restore)


def verdicts(srv: Server, kept: dict[str, Any]) -> list[dict[str, Any]]:
    """The server's verification against its own checkpoint, and against the auditor's."""
    own = httpx.get(srv.url + "/v1/admin/audit/verify", headers=srv.admin, timeout=30).json()
    r = httpx.post(srv.url + "/v1/admin/audit/verify", headers=srv.admin, json=kept, timeout=30)
    assert r.status_code == 200, r.text
    return [own, r.json()]


def auditor_copy(srv: Server) -> dict[str, Any]:
    r = httpx.get(srv.url + "/v1/admin/audit/checkpoint", headers=srv.admin, timeout=30)
    assert r.status_code == 200, r.text
    return dict(r.json())


class Chain:
    """The busiest chain of the logged server, its entries as they were, and the auditor's
    copy of the checkpoint, kept before any tampering."""

    def __init__(self, logged: Any) -> None:
        self.srv, self.db, _ = logged
        self.kept = auditor_copy(self.srv)
        self.shard = busiest(self.db)
        self.saved = rows(self.db, self.shard)

    def caught(self, tamper: Callable[[Any], None], seq: int, problem: str = "") -> None:
        """Tamper with the database; both verifications fail at entry ``seq`` of the chain
        (saying ``problem`` first, if given); then the chain is put back."""
        self.db.write(tamper)
        try:
            for v in verdicts(self.srv, self.kept):
                assert not v["ok"] and v["first_bad"] == f"{self.shard}:{seq}", v
                if problem:
                    assert problem in v["problems"][0]
        finally:
            put_back(self.db, self.shard, self.saved)


def test_audit_entries_record_the_money_and_its_accounts(logged: Any) -> None:
    _srv, db, _ = logged
    entries = db.read(
        lambda c: c.execute(
            text(
                "SELECT action, outcome, amount_fen, debit_account, credit_account FROM audit"
                " WHERE action = 'control.deduct' ORDER BY shard, seq"
            )
        ).all()
    )
    assert len(entries) == 6
    for _action, outcome, amount, debit, credit in entries:
        assert outcome == "deducted" and amount in (700, 300)
        assert debit.startswith("frozen:") and credit.startswith("court:")


def test_an_edited_entry_is_caught(logged: Any) -> None:
    chain = Chain(logged)
    edit = text("UPDATE audit SET amount_fen = 1 WHERE shard = :s AND seq = 2")
    chain.caught(lambda c: c.execute(edit, {"s": chain.shard}), 2, "altered")
    assert all(v["ok"] for v in verdicts(chain.srv, chain.kept))


def test_deleting_the_last_entries_and_moving_the_head_is_caught(logged: Any) -> None:
    chain = Chain(logged)
    shard, saved = chain.shard, chain.saved
    keep = len(saved) - 2

    def delete_tail(c: Any) -> None:
        c.execute(text("DELETE FROM audit WHERE shard = :s AND seq > :k"), {"s": shard, "k": keep})
        last = saved[keep - 1]
        c.execute(
            text("UPDATE audit_heads SET seq = :q, mac = :m WHERE shard = :s"),
            {"q": last["seq"], "m": last["mac"], "s": shard},
        )

    chain.caught(delete_tail, keep + 1, "sealed")


def test_truncating_a_chain_is_caught(logged: Any) -> None:
    chain = Chain(logged)
    shard = chain.shard

    def truncate(c: Any) -> None:
        c.execute(text("DELETE FROM audit WHERE shard = :s"), {"s": shard})
        c.execute(
            text("UPDATE audit_heads SET seq = 0, mac = :m WHERE shard = :s"),
            {"m": audit.GENESIS_MAC, "s": shard},
        )

    chain.caught(truncate, 1)


@pytest.mark.parametrize("guessed", [b"", b"chakong", None])
def test_editing_and_rehashing_the_rest_is_caught(logged: Any, guessed: bytes | None) -> None:
    """The entry edited, every later MAC recomputed with the project's own function and a
    guessed key (None: plain SHA-256 over the same fields, as the chain was before it was
    keyed), the head moved to the new last MAC."""
    chain = Chain(logged)
    shard, saved = chain.shard, chain.saved

    def rehash(c: Any) -> None:
        prev = saved[0]["prev_mac"]
        for r in saved:
            r = {**r, "outcome": "renewed"} if r["seq"] == 2 else dict(r)
            e = audit.Entry(
                r["sim_time"], r["court"], r["action"], r["target"], r["outcome"],
                r["amount_fen"], r["debit_account"], r["credit_account"], r["count"], r["shard"],
            )  # fmt: skip
            if guessed is None:
                import hashlib

                fields = [r["seq"], r["at_utc"], r["court"], r["action"], r["target"], prev]
                mac = hashlib.sha256(json.dumps(fields).encode()).hexdigest()
            else:
                mac = audit.mac_of(guessed, prev, r["seq"], r["at_utc"], e)
            c.execute(
                text(
                    "UPDATE audit SET outcome = :o, prev_mac = :p, mac = :m"
                    " WHERE shard = :s AND seq = :q"
                ),
                {"o": r["outcome"], "p": prev, "m": mac, "s": shard, "q": r["seq"]},
            )
            prev = mac
        c.execute(text("UPDATE audit_heads SET mac = :m WHERE shard = :s"), {"m": prev, "s": shard})

    chain.caught(rehash, 1)


def test_a_whole_new_log_forged_without_the_key_is_caught(logged: Any) -> None:
    """Every chain and head replaced by a self-consistent log made with the forger's key,
    and the server's checkpoint file replaced by one the forger signed."""
    srv, db, state = logged
    kept = auditor_copy(srv)
    forger = b"the forger's own key"
    saved = {s: rows(db, s) for s in range(audit.SHARDS)}
    file = state / CHECKPOINT_FILE
    saved_file = file.read_bytes()

    def forge(c: Any) -> None:
        c.execute(text("DELETE FROM audit"))
        heads = {}
        for shard in range(audit.SHARDS):
            e = audit.Entry(1.0, "hunan-1", "control.freeze", "case:1", "frozen", 1, shard=shard)
            mac = audit.mac_of(forger, audit.GENESIS_MAC, 1, "2023-01-01T00:00:00Z", e)
            c.execute(
                text(
                    "INSERT INTO audit (shard, seq, at_utc, sim_time, court, action, target,"
                    " outcome, amount_fen, count, prev_mac, mac) VALUES (:s, 1,"
                    " '2023-01-01T00:00:00Z', 1.0, 'hunan-1', 'control.freeze', 'case:1',"
                    " 'frozen', 1, 1, :p, :m)"
                ),
                {"s": shard, "p": audit.GENESIS_MAC, "m": mac},
            )
            c.execute(
                text("UPDATE audit_heads SET seq = 1, mac = :m WHERE shard = :s"),
                {"m": mac, "s": shard},
            )
            heads[shard] = (1, mac)
        forged.update(checkpoint.sign(forger, heads))
        file.write_text(json.dumps(forged))

    forged: dict[str, Any] = {}
    db.write(forge)
    try:
        own, auditors = verdicts(srv, kept)
        assert not own["ok"] and not auditors["ok"]
        assert own["first_bad"] is not None and auditors["first_bad"] is not None
        assert any("altered" in p for p in auditors["problems"]), auditors
        # the forged checkpoint, sent as if an auditor had kept it: its signature fails
        r = httpx.post(srv.url + "/v1/admin/audit/verify", headers=srv.admin, json=forged)
        assert any("signature is wrong" in p for p in r.json()["problems"]), r.text
    finally:
        # the database first, in one transaction, and the file last: the server writes a
        # checkpoint every second, and one written over the forged heads (each chain one entry
        # long, as most real ones here are) would outlive a file put back before the database
        def restore(c: Any) -> None:
            c.execute(text("DELETE FROM audit"))
            for shard, chain in saved.items():
                for r in chain:
                    names = ", ".join(r)
                    c.execute(text(f"INSERT INTO audit ({names}) VALUES (:{', :'.join(r)})"), r)
                last = (chain[-1]["seq"], chain[-1]["mac"]) if chain else (0, audit.GENESIS_MAC)
                c.execute(
                    text("UPDATE audit_heads SET seq = :q, mac = :m WHERE shard = :s"),
                    {"q": last[0], "m": last[1], "s": shard},
                )

        db.write(restore)
        file.write_bytes(saved_file)
    final = verdicts(srv, kept)
    assert all(v["ok"] for v in final), final
