"""A property-based model of the ledger, against the real service (SQLite and PostgreSQL).

A hypothesis state machine drives random sequences of freezes, deductions, renewals,
releases, clock jumps (and so lapses, and new calendar years for the provident-fund cap),
restarts of the server and retries with earlier keys, on two cases against one debtor (so
freezes wait in line behind each other), and after every step checks:

- money conserved, every journal entry against its cause, caps and claims held
  (``/v1/admin/reconcile``);
- no effect twice: a retry gets the first reply byte for byte, and a case lists each of its
  controls once;
- every acknowledged effect present: each control the service answered is in its case, with
  the outcome it answered, and a case recovered exactly what its acknowledged deductions took;
- no cap exceeded in the model's own count of acknowledged deductions.

Bounded and repeatable: a fixed number of examples and steps, derandomized (a fixed seed).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tests.api.support import CAP_FEN, PgDatabases, Server, find, open_case

ASSETS = ("bank_deposit", "provident_fund")
EXAMPLES, STEPS = 6, 20

pytestmark = pytest.mark.slow  # real servers, many requests: the default run, not the quick loop


def machine(start: Any, year_of: Any) -> type[RuleBasedStateMachine]:
    class Ledger(RuleBasedStateMachine):
        srv: Server = start()

        @initialize(claims=st.tuples(st.integers(10**8, 10**10), st.integers(1, 60_000_000)))
        def open_cases(self, claims: tuple[int, int]) -> None:
            srv = self.srv
            _, self.h = srv.court("hunan")
            debtor = srv.debtor("hunan")
            self.cases: list[int] = []
            self.assets: dict[str, str] = {}
            with srv.client() as c:
                for claim in claims:
                    case = open_case(c, self.h, debtor, claim)
                    for kind in ASSETS:
                        self.assets[kind] = find(c, self.h, case, "central", kind)["asset_id"]
                    self.cases.append(case)
            self.sent: list[tuple[str, dict[str, Any], int, bytes]] = []  # acknowledged
            self.restarts = 0
            for asset in ASSETS:  # the first case holds both: the other's freezes will wait
                self.act(0, asset, "freeze", None)

        def send(self, key: str, body: dict[str, Any]) -> httpx.Response:
            headers = {**self.h, "Idempotency-Key": key}
            r = httpx.post(self.srv.url + "/v1/controls", json=body, headers=headers, timeout=30)
            assert r.status_code in (201, 409), r.text
            return r

        def act(self, case: int, asset: str, action: str, amount: int | None) -> None:
            body: dict[str, Any] = {
                "case_id": self.cases[case],
                "asset_id": self.assets[asset],
                "action": action,
            }
            if amount is not None:
                body["amount_fen"] = amount
            key = uuid.uuid4().hex
            r = self.send(key, body)
            self.sent.append((key, body, r.status_code, r.content))

        @rule(
            case=st.integers(0, 1),
            asset=st.sampled_from(ASSETS),
            amount=st.one_of(st.none(), st.integers(1, 30_000_000)),
        )
        def freeze(self, case: int, asset: str, amount: int | None) -> None:
            self.act(case, asset, "freeze", amount)

        @rule(
            case=st.integers(0, 1), asset=st.sampled_from(ASSETS), amount=st.integers(1, 3 * 10**6)
        )
        def deduct(self, case: int, asset: str, amount: int) -> None:
            self.act(case, asset, "deduct", amount)

        @rule(case=st.integers(0, 1), amount=st.integers(1, 6 * 10**6))
        def deduct_from_the_fund(self, case: int, amount: int) -> None:
            self.act(case, "provident_fund", "deduct", amount)

        @rule(
            case=st.integers(0, 1),
            asset=st.sampled_from(ASSETS),
            action=st.sampled_from(["renew", "unfreeze"]),
        )
        def renew_or_release(self, case: int, asset: str, action: str) -> None:
            self.act(case, asset, action, None)

        @precondition(lambda self: bool(self.sent))
        @rule(pick=st.integers(0, 10_000))
        def retry(self, pick: int) -> None:
            key, body, status, content = self.sent[pick % len(self.sent)]
            r = self.send(key, body)
            assert (r.status_code, r.content) == (status, content)

        @rule(days=st.sampled_from([0.5, 40.0, 200.0, 400.0]))
        def jump(self, days: float) -> None:
            r = httpx.post(
                self.srv.url + "/v1/admin/clock", json={"days": days}, headers=self.srv.admin
            )
            assert r.status_code == 200, r.text

        @precondition(lambda self: self.restarts < 1)
        @rule()
        def restart(self) -> None:
            used = self.srv.used
            self.srv.stop()
            type(self).srv = start()
            self.srv.used = used
            self.restarts += 1

        @invariant()
        def ledger_holds(self) -> None:
            if not hasattr(self, "cases"):
                return
            result = self.srv.reconcile()
            assert result["ok"], result
            with self.srv.client() as c:
                views = {x: c.get(f"/v1/cases/{x}", headers=self.h).json() for x in self.cases}
            listed: dict[int, list[Any]] = defaultdict(list)
            for case, view in views.items():
                for ctl in view["controls"]:
                    listed[case].append(ctl)
            per_year: dict[int, int] = defaultdict(int)
            recovered: dict[int, int] = defaultdict(int)
            for key, body, status, content in self.sent:
                reply = httpx.Response(status, content=content).json()
                mine = [
                    x for x in listed[body["case_id"]] if x["control_id"] == reply["control_id"]
                ]
                assert len(mine) == 1, (key, reply)  # present, once
                expected = reply["outcome"] if status == 201 else reply["code"]
                assert mine[0]["outcome"] == expected
                if status == 201 and reply["outcome"] == "deducted":
                    recovered[body["case_id"]] += reply["amount_fen"]
                    if body["asset_id"] == self.assets["provident_fund"]:
                        per_year[year_of(reply["sim_time"])] += reply["amount_fen"]
            for case, view in views.items():
                assert len(view["controls"]) == len({x["control_id"] for x in view["controls"]})
                assert view["recovered_fen"] == recovered[case], (case, view)
            assert all(v <= CAP_FEN for v in per_year.values()), per_year

    return Ledger


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_ledger_keeps_its_promises_under_random_sequences(
    backend: str, pg: PgDatabases, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite3'}" if backend == "sqlite" else pg.new()
    fixtures = tmp_path / "fixtures.json"

    def start() -> Server:
        return Server(
            tmp_path, url, workers=2, fixtures=fixtures, state_dir=tmp_path / "state",
            extra=["api.debtors=120"],
        )  # fmt: skip

    test = machine(start, lambda iso: int(iso[:4]))
    test.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        test.TestCase().runTest()
    finally:
        test.srv.stop()
