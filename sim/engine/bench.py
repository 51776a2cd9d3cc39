"""``chakong bench``: what a whole enforcement case costs, against a textbook SimPy queue.

Measured in one process, alternating the two sides so that both see the same machine:

- ``cases_per_second``: cases filed per wall second in one replication of the scenario with
  streaming statistics only (no per-case records);
- ``textbook_customers_per_second``: customers per wall second through a textbook SimPy
  M/M/c model (one process per customer, ``simpy.Resource``, ``numpy`` draws);
- ``ratio``: the first over the second (target >= 0.4: a case costs no more than two and a
  half textbook customers);
- ``events_per_matter`` and ``textbook_events_per_customer``: SimPy events processed per
  case filed and per textbook customer, counted in separate untimed runs (the count wraps
  the environment's ``step``, which would slow a timed run), so that a ratio under target
  can be read as too many events or too much work at each;
- peak traced memory of the scenario run for 6 and for 24 simulated years, and their ratio.
  With streaming statistics only the state of the system is held (open cases, and the 终本
  pool, which fills for its 5 years of re-queries), so past that the peak should not grow,
  but for a scenario whose open matters grow: the matters open and the pool's members at
  each horizon are reported beside it, and the growth for each more matter held open.

``chakong bench --national`` (:mod:`sim.engine.national_bench`) times the national scenario
at several scales instead, each in a process of its own.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from sim.engine.replication import run_once, single_run
from sim.errors import UserError
from sim.model.streams import Streams
from sim.model.world import World
from sim.results.folders import versions
from sim.results.observer import Observer
from sim.scenario import load_scenario
from sim.scenario.schema import Scenario

DEFAULT_SCENARIO = Path("scenarios/baseline.toml")
TARGET_RATIO = 0.4
SEED = 2023


# ---------------------------------------------------------------- the textbook model


def textbook_env(
    customers: int,
    arrival_rate: float = 8.0,
    service_mean: float = 1.0,
    servers: int = 10,
    seed: int = 1,
) -> tuple[simpy.Environment, list[int]]:
    """A textbook SimPy M/M/c model, ready to run, and its count of customers served."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    served = [0]

    def customer(env: simpy.Environment):
        with desk.request() as req:
            yield req
            yield env.timeout(rng.exponential(service_mean))
        served[0] += 1

    def source(env: simpy.Environment):
        for _ in range(customers):
            yield env.timeout(rng.exponential(1 / arrival_rate))
            env.process(customer(env))

    env.process(source(env))
    return env, served


def textbook_mmc(customers: int, seed: int = 1) -> float:
    """Customers per wall second through the textbook SimPy M/M/c model."""
    env, served = textbook_env(customers, seed=seed)
    began = time.perf_counter()
    env.run()
    return served[0] / (time.perf_counter() - began)


# ---------------------------------------------------------------- counting events


def counting_steps(env: simpy.Environment) -> Callable[[], int]:
    """Wrap ``env.step`` (on this instance only) to count the events it processes; the
    returned function gives the count so far. For untimed runs: the wrapper costs time."""
    counted = [0]
    step = env.step

    def counting_step() -> None:
        counted[0] += 1
        step()

    setattr(env, "step", counting_step)  # noqa: B010 (mypy refuses assigning to a method)
    return lambda: counted[0]


def _processed(count: Callable[[], int]) -> int:
    events = count()
    if events == 0:
        raise RuntimeError(
            "counted no SimPy events: the run no longer goes through Environment.step (or "
            "Clock.run), so events per matter needs another hook in sim/engine/bench.py"
        )
    return events


def events_per_matter(scenario: Scenario, replication: int = 0) -> tuple[float, int]:
    """SimPy events processed per case filed in one replication (streaming statistics), and
    the cases filed; the world is built as :func:`sim.engine.replication.run_once` builds it."""
    observer = Observer(scenario.warmup_days, scenario.horizon_days, regions=len(scenario.regions))
    world = World(scenario, Streams(SEED, replication), observer)
    observer.available_officer_days = world.available_officer_days
    world.run()  # its clock counts the steps its compiled loop makes
    return _processed(lambda: world.env.steps) / max(world.filed_total, 1), world.filed_total


def textbook_events_per_customer(customers: int = 20_000) -> float:
    """SimPy events processed per customer through the textbook model."""
    env, served = textbook_env(customers)
    count = counting_steps(env)
    env.run()
    return _processed(count) / served[0]


# ---------------------------------------------------------------- the benchmark


def _cases_per_second(scenario: Scenario, replication: int) -> tuple[float, int]:
    began = time.perf_counter()
    result = single_run(scenario, SEED, replication, keep_records=False)
    return result.cases_filed / (time.perf_counter() - began), result.cases_filed


def _peak_and_held(scenario: Scenario) -> tuple[float, int, int]:
    """Peak traced memory (MB) of one replication, and the state it holds at the horizon:
    the matters open and the 终本 pool's members."""
    gc.collect()
    tracemalloc.start()
    try:
        world, _ = run_once(scenario, SEED, 0)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        return peak, world.open_cases(scenario.horizon_days), world.pool.size
    finally:
        tracemalloc.stop()


def run_bench(path: Path | None = None, repeat: int = 3) -> dict[str, Any]:
    path = path or DEFAULT_SCENARIO
    if not path.is_file():
        raise UserError(f"{path}: file not found (run from the project folder or give --scenario)")
    loaded = load_scenario(path)
    scenario = loaded.scenario
    single_run(scenario, SEED, 0, keep_records=False)  # warm imports and caches
    textbook_mmc(2000)
    case_rates, book_rates, cases_by_round = [], [], []
    for k in range(repeat):  # each round its own replication (k), so its own cases
        rate, cases = _cases_per_second(scenario, k)
        case_rates.append(rate)
        cases_by_round.append(cases)
        book_rates.append(textbook_mmc(max(cases, 50_000), seed=k))
    per_matter, _ = events_per_matter(scenario)
    per_customer = textbook_events_per_customer()
    short_days, long_days = 6 * 365, 24 * 365
    peak_1x, open_1x, pool_1x = _peak_and_held(
        load_scenario(path, [f"horizon_days={short_days}"]).scenario
    )
    peak_4x, open_4x, pool_4x = _peak_and_held(
        load_scenario(path, [f"horizon_days={long_days}"]).scenario
    )
    # what the memory grew by for each matter more held open: mostly the state the model
    # holds, plus what grows with simulated time alone (the provident-fund ledger keeps each
    # year a debtor paid in; the calendars' running counts), which this figure includes
    more_open = open_4x - open_1x
    per_open_kb = (peak_4x - peak_1x) * 1024 / more_open if more_open > 0 else None
    best_case, best_book = max(case_rates), max(book_rates)
    ratio = best_case / best_book
    return {
        "scenario": scenario.name,
        "model": versions()["model"],  # compiled (mypyc) or python: CHAKONG_INTERPRETED=1
        "cases_per_replication": cases_by_round[-1],  # the last round's, as before
        "cases_per_round": cases_by_round,
        "rounds": repeat,
        "cases_per_second": round(best_case, 1),
        "textbook_customers_per_second": round(best_book, 1),
        "ratio": round(ratio, 4),
        "target_ratio": TARGET_RATIO,
        "ratio_per_round": [round(c / b, 4) for c, b in zip(case_rates, book_rates, strict=True)],
        "events_per_matter": round(per_matter, 3),
        "textbook_events_per_customer": round(per_customer, 3),
        # what one event of a case costs, in textbook events: (1 / ratio) textbook customers
        # a case, over its events, times a customer's events
        "event_cost_in_textbook_events": round(per_customer / ratio / per_matter, 3),
        "peak_memory_mb_1x": round(peak_1x, 3),  # to the KB: small scenarios peak under 1 MB
        "peak_memory_mb_4x": round(peak_4x, 3),
        "simulated_days_1x": short_days,
        "memory_growth_ratio": round(peak_4x / peak_1x, 3),
        "open_matters_1x": open_1x,
        "open_matters_4x": open_4x,
        "pool_members_1x": pool_1x,
        "pool_members_4x": pool_4x,
        "memory_kb_per_more_open_matter": None if per_open_kb is None else round(per_open_kb, 2),
    }


def _cases(by_round: list[int]) -> str:
    """The cases filed in each round's replication (each round runs another), in short."""
    low, high = min(by_round), max(by_round)
    if low == high:
        return f"{low:,} cases a replication"
    return f"{low:,} to {high:,} cases a replication, one a round"


def format_bench(r: dict[str, Any]) -> str:
    verdict = "meets" if r["ratio"] >= r["target_ratio"] else "misses"
    return "\n".join(
        [
            f"chakong bench: {r['scenario']} ({_cases(r['cases_per_round'])}, "
            f"best of {r['rounds']} rounds; model {r['model']})",
            f"  cases_per_second               {r['cases_per_second']:>12,.0f}",
            f"  textbook_customers_per_second  {r['textbook_customers_per_second']:>12,.0f}",
            f"  ratio                          {r['ratio']:>12.3f}   ({verdict} the target "
            f">= {r['target_ratio']}; per round {r['ratio_per_round']})",
            f"  events_per_matter              {r['events_per_matter']:>12.2f}   (SimPy events "
            "a case filed, counted in a separate untimed run)",
            f"  textbook_events_per_customer   {r['textbook_events_per_customer']:>12.2f}   "
            f"(an event of a case costs {r['event_cost_in_textbook_events']:.2f} textbook events)",
            f"  peak memory, {r['simulated_days_1x'] / 365:g} simulated years "
            f"{r['peak_memory_mb_1x']:>12.1f} MB",
            f"  peak memory, 4x as long        {r['peak_memory_mb_4x']:>12.1f} MB   "
            f"(growth ratio {r['memory_growth_ratio']:.2f}; flat is 1.00)",
            f"  held at the horizon            {r['open_matters_1x']:>12,} -> "
            f"{r['open_matters_4x']:,} matters open, {r['pool_members_1x']:,} -> "
            f"{r['pool_members_4x']:,} in the 终本 pool",
            _held_line(r),
        ]
    )


def _held_line(r: dict[str, Any]) -> str:
    per_open = r["memory_kb_per_more_open_matter"]
    if per_open is None:
        return "  memory beyond the state        the open matters did not grow"
    return (
        f"  memory for each more open      {per_open:>12.2f} KB   (the growth over the matters "
        "held open at the horizon)"
    )
