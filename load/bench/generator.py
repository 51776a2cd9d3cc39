"""Benchmark of the load generator (not a test): ``python -m load.bench.generator``.

Against the stub API answering at once (:mod:`load.bench.stub_server`, its own process), it
raises the target rate step by step and reports the highest rate one Locust worker process
*sustains* (achieved at least 98% of the target, the generator's send lag p99 at most
10 ms, nothing dropped, no errors) with its send lag, and the same for two worker
processes, and prints their ratio. The two ladders are interleaved (each rate is tried with
one worker, then with two) so both see the machine in the same state, and a rate counts as
missed only when three tries in a row miss it, since other work may share the machine.
Everything runs on this machine, so the stub and the workers share its cores: the
figures are this machine's, stated as measured.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from load.harness.plan import make_plan, read_fixtures
from load.harness.processes import run_locust
from load.harness.summary import read_reports, summarize
from load.target.adapter import load_adapter
from sim.scenario import load_scenario
from sim.study.demand import run_demand

ROOT = Path(__file__).resolve().parents[2]
RATES = (250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000, 3500, 4000)
ATTEMPTS = 3  # other work may share the machine: a rate fails when 3 tries in a row do
SEND_LAG_MAX_MS = 10.0


def trial(scenario, demand, fixtures, rate: float, workers: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="chakong-bench-") as tmp:
        folder = Path(tmp)
        plan = make_plan(
            scenario, demand, fixtures, load_adapter(), host=fixtures["base_url"], rate=rate,
            segments=[(0.0, seconds, rate)], shape={"kind": "flat"}, duration_s=seconds,
            warmup_s=0.0, workers=workers, seed=1, results_dir=folder,
        )  # fmt: skip
        plan.write(folder / "plan.json")
        run_locust(folder / "plan.json", fixtures["path"], folder, workers,
                   seconds + plan.prime.max_s + 60)  # fmt: skip
        reports = read_reports(folder)
        s = summarize(plan, reports, scenario.load.slo, {})
    lag = s["send_lag_ms"]["p99"]
    sustained = (
        len(reports) == workers
        and s["achieved_rate"] >= 0.98 * rate
        and lag is not None
        and lag <= SEND_LAG_MAX_MS
        and s["dropped"] == 0
        and s["errors"]["count"] == 0
    )
    return {
        "target_rate": rate,
        "achieved_rate": s["achieved_rate"],
        "send_lag_p99_ms": lag,
        "latency_p99_ms": s["latency_ms"]["p99"],
        "dropped": s["dropped"],
        "errors": s["errors"]["count"],
        "sustained": sustained,
    }


def ladder(scenario, demand, fixtures, seconds: float, attempts: int = ATTEMPTS):
    """Step the rate up for one and two workers together (interleaved, so both see the
    same machine); a worker count drops out at the first rate it fails ``attempts`` times."""
    best: dict[int, dict | None] = {1: None, 2: None}
    trials: dict[int, list[dict]] = {1: [], 2: []}
    alive = {1, 2}
    for rate in RATES:
        for workers in sorted(alive):
            for _ in range(attempts):
                t = trial(scenario, demand, fixtures, rate, workers, seconds)
                trials[workers].append(t)
                print(f"  {workers} worker(s) at {rate} req/s: achieved "
                      f"{t['achieved_rate']:.0f}, send lag p99 {t['send_lag_p99_ms']} ms, "
                      f"{'sustained' if t['sustained'] else 'NOT sustained'}",
                      file=sys.stderr)  # fmt: skip
                if t["sustained"]:
                    best[workers] = t
                    break
            else:
                alive.discard(workers)
        if not alive:
            break
    return best, trials


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m load.bench.generator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--seconds", type=float, default=6.0, help="length of each step (default 6)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = p.parse_args(argv)
    loaded = load_scenario(ROOT / "scenarios" / "baseline.toml", ["horizon_days=60",
                           "warmup_days=0", "load.max_in_flight=200"])  # fmt: skip
    demand = run_demand(loaded, seed=1, replications=1, show_progress=False)
    with tempfile.TemporaryDirectory(prefix="chakong-stub-") as tmp:
        fx = Path(tmp) / "fixtures.json"
        stub = subprocess.Popen(
            [sys.executable, "-m", "load.bench.stub_server", "--fixtures-out", str(fx)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert stub.stdout is not None and stub.stdout.readline().startswith("listening")
            fixtures = {**read_fixtures(fx), "path": fx}
            best, trials = ladder(loaded.scenario, demand, fixtures, args.seconds)
            one, two = best[1], best[2]
        finally:
            stub.terminate()
            stub.wait(10)
    result: dict[str, Any] = {
        "cpus": len(os.sched_getaffinity(0)),
        "seconds_per_step": args.seconds,
        "one_worker": one,
        "two_workers": two,
        "ratio": (two["target_rate"] / one["target_rate"]) if one and two else None,
        "trials": {"one_worker": trials[1], "two_workers": trials[2]},
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key in ("one_worker", "two_workers"):
            b = result[key]
            text = "none sustained"
            if b is not None:
                text = f"{b['target_rate']} req/s sustained, send lag p99 {b['send_lag_p99_ms']} ms"
            print(f"{key}: {text}")
        print(f"ratio two/one: {result['ratio']}; {result['cpus']} CPUs, shared with the stub")
    return 0


if __name__ == "__main__":
    sys.exit(main())
