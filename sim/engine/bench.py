"""``chakong bench``: what a whole enforcement case costs, against a textbook SimPy queue.

Measured in one process, alternating the two sides so that both see the same machine:

- ``cases_per_second``: cases filed per wall second in one replication of the scenario with
  streaming statistics only (no per-case records);
- ``textbook_customers_per_second``: customers per wall second through a textbook SimPy
  M/M/c model (one process per customer, ``simpy.Resource``, ``numpy`` draws);
- ``ratio``: the first over the second (target >= 0.5: a case costs no more than two
  textbook customers);
- peak traced memory of the scenario run for 6 and for 24 simulated years, and their ratio.
  With streaming statistics only the state of the system is held (open cases, and the 终本
  pool, which fills for its 5 years of re-queries), so past that the peak should not grow.

``chakong bench --national`` times instead one replication of the national scenario at full
scale (or ``--scale F``), streaming statistics only: wall seconds and the process's peak
resident memory, against the targets of 120 s and 4 GiB on a 2-core machine.
"""

from __future__ import annotations

import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from sim.engine.replication import single_run
from sim.errors import UserError
from sim.scenario import load_scenario

DEFAULT_SCENARIO = Path("scenarios/baseline.toml")
NATIONAL_SCENARIO = Path("scenarios/national-2023.toml")
TARGET_RATIO = 0.5
TARGET_NATIONAL_SECONDS = 120.0
TARGET_NATIONAL_GIB = 4.0


def textbook_mmc(
    customers: int,
    arrival_rate: float = 8.0,
    service_mean: float = 1.0,
    servers: int = 10,
    seed: int = 1,
) -> float:
    """Customers per second through a textbook SimPy M/M/c model."""
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
    began = time.perf_counter()
    env.run()
    return served[0] / (time.perf_counter() - began)


def _cases_per_second(scenario: Any, replication: int) -> tuple[float, int]:
    began = time.perf_counter()
    result = single_run(scenario, 2023, replication, keep_records=False)
    return result.cases_filed / (time.perf_counter() - began), result.cases_filed


def _peak_mb(scenario: Any) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        single_run(scenario, 2023, 0, keep_records=False)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run_bench(path: Path | None = None, repeat: int = 3) -> dict[str, Any]:
    path = path or DEFAULT_SCENARIO
    if not path.is_file():
        raise UserError(f"{path}: file not found (run from the project folder or give --scenario)")
    loaded = load_scenario(path)
    scenario = loaded.scenario
    single_run(scenario, 2023, 0, keep_records=False)  # warm imports and caches
    textbook_mmc(2000)
    case_rates, book_rates = [], []
    cases = 0
    for k in range(repeat):
        rate, cases = _cases_per_second(scenario, k)
        case_rates.append(rate)
        book_rates.append(textbook_mmc(max(cases, 50_000), seed=k))
    short_days, long_days = 6 * 365, 24 * 365
    peak_1x = _peak_mb(load_scenario(path, [f"horizon_days={short_days}"]).scenario)
    peak_4x = _peak_mb(load_scenario(path, [f"horizon_days={long_days}"]).scenario)
    best_case, best_book = max(case_rates), max(book_rates)
    return {
        "scenario": scenario.name,
        "cases_per_replication": cases,
        "rounds": repeat,
        "cases_per_second": round(best_case, 1),
        "textbook_customers_per_second": round(best_book, 1),
        "ratio": round(best_case / best_book, 4),
        "target_ratio": TARGET_RATIO,
        "ratio_per_round": [round(c / b, 4) for c, b in zip(case_rates, book_rates, strict=True)],
        "peak_memory_mb_1x": round(peak_1x, 2),
        "peak_memory_mb_4x": round(peak_4x, 2),
        "simulated_days_1x": short_days,
        "memory_growth_ratio": round(peak_4x / peak_1x, 3),
    }


def format_bench(r: dict[str, Any]) -> str:
    verdict = "meets" if r["ratio"] >= r["target_ratio"] else "misses"
    return "\n".join(
        [
            f"chakong bench: {r['scenario']} ({r['cases_per_replication']:,} cases a replication, "
            f"best of {r['rounds']} rounds)",
            f"  cases_per_second               {r['cases_per_second']:>12,.0f}",
            f"  textbook_customers_per_second  {r['textbook_customers_per_second']:>12,.0f}",
            f"  ratio                          {r['ratio']:>12.3f}   ({verdict} the target "
            f"{r['target_ratio']}; per round {r['ratio_per_round']})",
            f"  peak memory, {r['simulated_days_1x'] / 365:g} simulated years "
            f"{r['peak_memory_mb_1x']:>12.1f} MB",
            f"  peak memory, 4x as long        {r['peak_memory_mb_4x']:>12.1f} MB   "
            f"(growth ratio {r['memory_growth_ratio']:.2f})",
        ]
    )


def run_national_bench(
    path: Path | None = None, scale: float = 1.0, progress: bool = True
) -> dict[str, Any]:
    """One replication of the national scenario at ``scale``: wall time and peak memory."""
    from tqdm import tqdm

    path = path or NATIONAL_SCENARIO
    if not path.is_file():
        raise UserError(f"{path}: file not found (run from the project folder or give --scenario)")
    loaded = load_scenario(path)
    if scale != 1:
        loaded = loaded.scaled(scale)
    scenario = loaded.scenario
    bar = tqdm(
        total=scenario.horizon_days,
        desc=f"{scenario.name} at scale {scale:g}",
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} simulated days [{elapsed}<{remaining}]",
        disable=not progress,
        file=sys.stderr,
    )
    began = time.perf_counter()
    try:
        result = single_run(scenario, 2023, 0, keep_records=False, progress=bar.update)
    finally:
        bar.close()
    wall = time.perf_counter() - began
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # KiB on Linux
    return {
        "scenario": scenario.name,
        "scale": scale,
        "volume_factor": round(loaded.volume_factor, 5),
        "simulated_days": scenario.horizon_days,
        "matters_filed": result.cases_filed,
        "wall_seconds": round(wall, 1),
        "matters_per_second": round(result.cases_filed / wall, 1),
        "peak_rss_gib": round(peak_gib, 3),
        "target_wall_seconds": TARGET_NATIONAL_SECONDS,
        "target_peak_gib": TARGET_NATIONAL_GIB,
    }


def format_national_bench(r: dict[str, Any]) -> str:
    def verdict(value: float, target: float, unit: str) -> str:
        if r["scale"] != 1:
            return f"the target of {target:g} {unit} applies at scale 1"
        return f"{'meets' if value <= target else 'misses'} the target {target:g} {unit}"

    return "\n".join(
        [
            f"chakong bench --national: {r['scenario']} at scale {r['scale']:g}, one "
            f"replication of {r['simulated_days']:,.0f} simulated days, streaming statistics",
            f"  matters filed        {r['matters_filed']:>14,}",
            f"  wall seconds         {r['wall_seconds']:>14,.1f}   "
            f"({verdict(r['wall_seconds'], r['target_wall_seconds'], 's')})",
            f"  matters per second   {r['matters_per_second']:>14,.0f}",
            f"  peak resident memory {r['peak_rss_gib']:>14.2f} GiB "
            f"({verdict(r['peak_rss_gib'], r['target_peak_gib'], 'GiB')})",
        ]
    )
