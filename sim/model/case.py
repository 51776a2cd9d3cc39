"""The life of one case, stringing the mechanisms together.

filed -> waits for an officer -> investigation stint -> network query over the region's
channels -> answers arrive -> freezes against what was found (in person where the channel
cannot act online; a wrong record fails and is redone after an officer's rework and a fresh
query) -> realisation (online or in-person deduction; a sale for real estate and vehicles)
-> settlement of the claim in time order under the provident-fund cap -> case funds paid
out to the creditor -> closed as fully performed, partly performed, or 终本 (terminated for
now: nothing realisable found).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from sim.model import deduction, freeze
from sim.model.network import Finding, QueryResult, preferred
from sim.model.settlement import Offer, settle, to_fen

if TYPE_CHECKING:
    from sim.model.world import Case, World


def handle(w: World, case: Case) -> Generator[Any, Any, None]:
    env = w.env
    region = case.region
    court = case.court

    # an officer takes the case and launches the investigation
    start = yield from court.work(region.investigate())
    case.officer_start = start
    w.observer.on_officer_start(case.filed, start)
    w.log.add(start, case.case_id, region.name, "officer_start")

    # network query over every channel the region uses
    result = w.network.query(region.name, case.assets, env.now, w.keep_records)
    yield from _await_answers(w, case, result)
    targets = preferred(result.findings, region.preference)
    case.found = len(targets)

    # controls, with rework rounds for wrong records
    offers: list[Offer] = []
    while targets:
        started = env.now
        in_person = [f for f in targets if freeze.needs_officer(f)]
        if in_person:
            yield from court.work(sum(region.offline_control() for _ in in_person))
        holds, failures = freeze.apply_freezes(targets, started, env.now)
        _log_freezes(w, case, holds, failures)
        yield from _realise(w, case, holds, offers)
        if not failures or sum(o.amount for o in offers) >= case.claim:
            break
        known = max(x.at for x in failures)
        if known > env.now:
            yield env.timeout(known - env.now)
        yield from court.work(sum(region.rework() for _ in failures))
        case.reworks += 1
        w.log.add(env.now, case.case_id, region.name, "rework")
        result = w.network.requery([x.finding for x in failures], env.now, w.keep_records)
        yield from _await_answers(w, case, result)
        targets = result.findings

    # settlement, case funds, closing
    payments = settle(case.claim, offers, w.years, region.provident_fund_cap)
    close_at = env.now
    for p in payments:
        w.log.add(
            p.at,
            case.case_id,
            region.name,
            p.kind,
            p.asset.asset_type.value,
            p.channel,
            p.amount,
        )
        paid = w.funds.paid_out_at(p.at)
        w.log.add(
            paid,
            case.case_id,
            region.name,
            "disbursed",
            p.asset.asset_type.value,
            p.channel,
            p.amount,
        )
        w.observer.on_disbursed(paid, p.amount)
        case.recovered += p.amount
        if w.keep_records:
            case.paid_out.append((paid, p.amount))
        if paid > close_at:
            close_at = paid
    if payments:
        case.last_disbursed = close_at
    if close_at > env.now:
        yield env.timeout(close_at - env.now)
    if to_fen(case.recovered) >= to_fen(case.claim):
        case.outcome = "fully_performed"
    elif case.recovered > 0:
        case.outcome = "partly_performed"
    else:
        case.outcome = "terminated_for_now"  # 终本
    w.close(case)


def _await_answers(w: World, case: Case, result: QueryResult) -> Generator[Any, Any, None]:
    """Count and log the requests and their answers, and wait for the last answer."""
    env = w.env
    w.observer.on_requests(result.sent, result.requests, result.with_deadline, result.late)
    if result.answers is not None:
        rid = case.region.name
        for via, answered, found in result.answers:
            w.log.add(
                result.sent, case.case_id, rid, "query_sent", "", via.channel, None, via.desk.name
            )
            w.log.add(
                answered, case.case_id, rid, "query_answered", "", via.channel, found, via.desk.name
            )
    case.queries += sum(result.requests.values())
    if result.last > env.now:
        yield env.timeout(result.last - env.now)


def _log_freezes(w: World, case: Case, holds: list, failures: list) -> None:
    rid = case.region.name
    for h in holds:
        w.observer.on_freeze(h.at, True)
        _log_control(w, case, rid, "freeze", h.at, h.finding)
    for x in failures:
        w.observer.on_freeze(x.at, False)
        _log_control(w, case, rid, "freeze_failed", x.at, x.finding)


def _log_control(w: World, case: Case, rid: str, event: str, at: float, f: Finding) -> None:
    w.log.add(
        at,
        case.case_id,
        rid,
        event,
        f.asset.asset_type.value,
        f.via.channel,
        f.asset.value_yuan,
        f.via.desk.name,
    )


def _realise(
    w: World, case: Case, holds: list[freeze.Hold], offers: list[Offer]
) -> Generator[Any, Any, None]:
    """Turn held assets into offers of money: sales, online or in-person deductions."""
    in_person: list[freeze.Hold] = []
    for h in holds:
        if deduction.is_sold(h):
            offers.append(w.sale.offer(h))
        elif deduction.needs_officer(h):
            in_person.append(h)
        else:
            offers.append(deduction.online_offer(h))
    if in_person:
        env = w.env
        ready = max(h.at for h in in_person)
        if ready > env.now:
            yield env.timeout(ready - env.now)
        yield from case.court.work(sum(case.region.offline_control() for _ in in_person))
        offers.extend(deduction.offer_at(h, env.now) for h in in_person)
