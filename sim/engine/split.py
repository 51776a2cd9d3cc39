"""One replication split across processes by region, with the same results as one process.

Regions share two things in the model: the agencies' desks (a bank's desks serve every
region's requests, first come first served) and nothing else once each region's 终本 pool
draws from streams of its own (:mod:`sim.model.terminated_pool`). So each *part* (a process
here or a Dask task) runs a world of some regions (:class:`sim.model.world.World` with
``only``), and this process, the *coordinator*, keeps the agencies' desks:

- a part runs until a meeting instant (every agency's polling instants; see
  :mod:`sim.model.answers`), sends the requests it made since the last (agency, time), and
  waits;
- the coordinator serves every request sent no later than the earliest time any part has
  reached, in the order sent (a part's own in its order), on desks built from the same
  streams as one process's: the same draws meet the same requests, so every desk's answer
  is one process's to the bit; it releases each part whose requests are all served;
- at the end each part sends its observer's state, which adds up exactly: counts add, and
  sums of floats are kept by region (:class:`sim.results.observer.Observer`).

The parts meet over :mod:`multiprocessing.connection` (loopback TCP, a random key), so a
part may run in a local process or on a Dask worker alike. Two parts' requests to one
agency at one instant would leave their order to chance: the coordinator refuses them
(:class:`sim.model.answers.NotExact`), as it refuses an answer at its meeting instant; in
the national scenario neither happens (tests/sim/test_split.py).
"""

from __future__ import annotations

import gc
import math
import os
import resource
import socket
import struct
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener, wait
from typing import Any

import numpy as np

from sim.engine.hugepages import use_huge_pages
from sim.engine.replication import observed
from sim.model.answers import Answers, NotExact, pollers
from sim.model.network import Network, serve_in_order
from sim.model.streams import Streams
from sim.model.topology import Topology
from sim.model.world import World
from sim.results.observer import Observer
from sim.results.replication import ReplicationResult
from sim.scenario.schema import Scenario

_STATS = ("filed", "meetings", "waited_seconds", "cpu_seconds", "peak_rss_gib")
_HEAD = struct.Struct("=dq")  # a part's message: the time it reached, requests that follow
Progress = Callable[[float], None] | None


def peak_rss_gib() -> float:
    """This process's peak resident memory, in GiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / 2**30 if sys.platform == "darwin" else peak * 1024 / 2**30


def partition(scenario: Scenario, parts: int) -> list[tuple[str, ...]]:
    """The regions in ``parts`` groups of about equal work (filings over the run and cases
    at the start), the largest first to the least loaded; each group in scenario order."""
    if parts < 1:
        raise ValueError("a replication is split into at least one part")
    horizon = scenario.horizon_days
    weight = {
        name: r.arrival_rate_per_day * horizon + r.initial_pending_cases
        for name, r in scenario.regions.items()
    }
    groups: list[list[str]] = [[] for _ in range(min(parts, len(weight)))]
    loads = [0.0] * len(groups)
    for name in sorted(weight, key=lambda n: -weight[n]):
        k = loads.index(min(loads))
        groups[k].append(name)
        loads[k] += weight[name]
    order = {name: i for i, name in enumerate(scenario.regions)}
    return [tuple(sorted(g, key=order.__getitem__)) for g in groups if g]


@dataclass(frozen=True)
class Part:
    """One part of a split replication: what it runs and where its coordinator listens."""

    scenario: Scenario
    seed: int
    replication: int
    regions: tuple[str, ...]
    index: int
    address: tuple[str, int]
    authkey: bytes


def run_part(part: Part) -> None:
    """Run one part (in its own process): its regions' world, meeting the coordinator."""
    use_huge_pages()  # as one process runs it (sim/engine/replication.py)
    conn = _no_delay(Client(part.address, authkey=part.authkey))
    refused = [False]  # by the coordinator (it knows why)
    collecting = gc.isenabled()
    try:
        conn.send(part.index)
        scenario = part.scenario
        horizon = scenario.horizon_days
        observer = Observer(scenario.warmup_days, horizon, regions=len(scenario.regions))
        world = World(scenario, Streams(part.seed, part.replication), observer, only=part.regions)

        waited = [0.0]

        def exchange(now: float, agencies: list[int], sent: list[float]) -> list[float]:
            n = len(agencies)
            conn.send_bytes(
                _HEAD.pack(now, n) + array("q", agencies).tobytes() + array("d", sent).tobytes()
            )
            began = time.perf_counter()
            reply = conn.recv_bytes()
            waited[0] += time.perf_counter() - began
            if len(reply) != 8 * n:
                refused[0] = True
                raise NotExact(reply.decode())
            return array("d", reply).tolist()

        answers = Answers(world.env, observer, pollers(world.network), horizon, exchange)
        world.network.answers = answers
        gc.disable()  # as one process runs it (sim/engine/replication.py)
        world.run()
        answers.finish()
        observer.finish()
        conn.send(
            {
                "observer": observer.state(),
                "filed": world.filed_total,
                "officer_days": {n: r.available_officer_days for n, r in world.regions.items()},
                "meetings": answers.meetings,
                "waited_seconds": waited[0],
                "cpu_seconds": time.process_time(),
                "peak_rss_gib": peak_rss_gib(),
            }
        )
    except NotExact as exc:
        if not refused[0]:  # found here: the coordinator tells the user
            conn.send_bytes(_HEAD.pack(math.nan, -1) + str(exc).encode())
    except (EOFError, ConnectionError):
        return  # the coordinator stopped, and says why
    finally:
        conn.close()
        if collecting:  # a Dask worker's process goes on
            gc.enable()


def _no_delay(conn: Connection) -> Connection:
    """``conn`` with Nagle's algorithm off: a message longer than 16 KiB goes out as two
    writes, and the second would wait for the first's acknowledgement (some 40 ms)."""
    with socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


class Coordinator:
    """The agencies' desks of a split replication, serving its parts (see the module)."""

    def __init__(self, scenario: Scenario, seed: int, replication: int, parts: int) -> None:
        # the desks as one process builds them (the same streams); no region's links used
        network = Network(scenario, Topology(scenario), Streams(seed, replication))
        self.desks = list(network.desks.values())
        self.parts = parts
        self.reached = [-math.inf] * parts  # the time each part has reached
        self.waiting = [False] * parts
        self.agencies = [np.empty(0, np.int64) for _ in range(parts)]  # sent, not served
        self.sent = [np.empty(0, np.float64) for _ in range(parts)]
        self.done: list[list[np.ndarray]] = [[] for _ in range(parts)]  # served, not told
        self.requests = 0

    def receive(self, part: int, message: bytes) -> None:
        now, n = _HEAD.unpack_from(message)
        at = _HEAD.size
        if n < 0:  # the part found its run would not be one process's
            raise NotExact(f"part {part}: {message[at:].decode()}")
        agencies = np.frombuffer(message, np.int64, n, at)
        sent = np.frombuffer(message, np.float64, n, at + 8 * n)
        self.agencies[part] = np.concatenate([self.agencies[part], agencies])
        self.sent[part] = np.concatenate([self.sent[part], sent])
        self.reached[part] = now
        self.waiting[part] = True

    def serve(self) -> list[tuple[int, bytes]]:
        """Serve what every part has sent up to the earliest time reached, in the order
        sent; the replies to the parts whose requests are all served."""
        upto = min(self.reached)
        counts = [int(np.searchsorted(s, upto, side="right")) for s in self.sent]
        if any(counts):
            agencies = np.concatenate([a[:c] for a, c in zip(self.agencies, counts, strict=True)])
            sent = np.concatenate([s[:c] for s, c in zip(self.sent, counts, strict=True)])
            origin = np.repeat(np.arange(self.parts, dtype=np.int64), counts)
            order = np.argsort(sent, kind="stable")  # a part's own requests keep their order
            done = np.empty(len(sent))
            done[order] = serve_in_order(
                self.desks, agencies[order].tolist(), sent[order].tolist(),
                origin[order].tolist(),
            )  # fmt: skip
            self.requests += len(sent)
            start = 0
            for part, c in enumerate(counts):
                if c:
                    self.done[part].append(done[start : start + c])
                    self.agencies[part] = self.agencies[part][c:]
                    self.sent[part] = self.sent[part][c:]
                    start += c
        replies = []
        for part in range(self.parts):
            if self.waiting[part] and not len(self.sent[part]):
                told = self.done[part]
                replies.append((part, np.concatenate(told).tobytes() if told else b""))
                self.done[part] = []
                self.waiting[part] = False
        return replies


class Launcher:
    """Where the parts run: processes of this machine (here) or tasks of a Dask cluster
    (:class:`sim.engine.executors.DaskExecutor`)."""

    host = "127.0.0.1"  # the address the parts reach the coordinator at

    def start(self, parts: Sequence[Part]) -> None:
        import multiprocessing as mp

        context = mp.get_context("forkserver")
        self.processes = [context.Process(target=run_part, args=(p,)) for p in parts]
        for process in self.processes:
            process.start()

    def stop(self) -> None:
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


def run_split(
    scenario: Scenario,
    seed: int,
    replication: int,
    parts: int,
    progress: Progress = None,
    launcher: Launcher | None = None,
    stats: dict[str, Any] | None = None,
) -> ReplicationResult:
    """One replication, its regions split into ``parts`` parts run at once: the same
    metrics as :func:`sim.engine.replication.single_run` gives, to the bit. ``stats``, if
    given, is filled with what each part and the coordinator did (for ``chakong bench``)."""
    began = time.perf_counter()
    launcher = launcher or Launcher()
    groups = partition(scenario, parts)
    authkey = os.urandom(16)
    with Listener((launcher.host, 0), authkey=authkey) as listener:
        address = listener.address
        launcher.start(
            [
                Part(scenario, seed, replication, g, k, address, authkey)
                for k, g in enumerate(groups)
            ]
        )
        try:
            conns: dict[int, Connection] = {}
            while len(conns) < len(groups):
                conn = _no_delay(listener.accept())
                conns[conn.recv()] = conn
            cpu = time.process_time()
            results, coordinator = _coordinate(scenario, seed, replication, conns, progress)
            if stats is not None:
                stats["coordinator_cpu_seconds"] = time.process_time() - cpu
                stats["requests"] = coordinator.requests
                stats["parts"] = [
                    {"regions": len(groups[k])} | {n: v for n, v in r.items() if n in _STATS}
                    for k, r in sorted(results.items())
                ]
        finally:
            for conn in conns.values():
                conn.close()
            launcher.stop()
    return _result(scenario, replication, results, began)


def _coordinate(
    scenario: Scenario,
    seed: int,
    replication: int,
    conns: dict[int, Connection],
    progress: Progress,
) -> tuple[dict[int, dict[str, Any]], Coordinator]:
    coordinator = Coordinator(scenario, seed, replication, len(conns))
    part_of = {id(c): k for k, c in conns.items()}
    results: dict[int, dict[str, Any]] = {}
    told = 0.0
    horizon = scenario.horizon_days
    while len(results) < len(conns):
        for ready in wait([c for k, c in conns.items() if k not in results]):
            part = part_of[id(ready)]
            conn = conns[part]
            try:
                if coordinator.reached[part] == math.inf:
                    results[part] = conn.recv()  # its observer's state: the part is done
                    continue
                coordinator.receive(part, conn.recv_bytes())
            except EOFError:
                raise RuntimeError(f"part {part} of the split replication stopped") from None
        try:
            replies = coordinator.serve()
        except NotExact as exc:
            for c in conns.values():
                c.send_bytes(str(exc).encode())
            raise
        for part, reply in replies:
            conns[part].send_bytes(reply)
        reached = min(min(coordinator.reached), horizon)
        if progress is not None and reached > told:
            progress(reached - told)
            told = reached
    return results, coordinator


def _result(
    scenario: Scenario, replication: int, results: dict[int, dict[str, Any]], began: float
) -> ReplicationResult:
    """The parts' observers added up into one replication's result."""
    observer = Observer(scenario.warmup_days, scenario.horizon_days, regions=len(scenario.regions))
    officer_days: dict[str, float] = {}
    for part in sorted(results):
        observer.absorb(results[part]["observer"])
        officer_days.update(results[part]["officer_days"])
    # as one process adds them up: in scenario order
    observer.available_officer_days = sum(officer_days[n] for n in scenario.regions)
    observer.officers = sum(r.effective_officers for r in scenario.regions.values())
    return observed(observer, replication, sum(r["filed"] for r in results.values()), began)
