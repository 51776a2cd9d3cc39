"""Closed forms the model is checked against: Erlang C (M/M/c) and open Jackson networks.

Scenario files in ``scenarios/validation/`` name, in a header comment, the fields that
carry the closed-form parameters, so that ``chakong verify FILE --set ...`` repeats the
check with any numbers:

    # erlang-c: lambda=PATH servers=PATH service_mean_days=PATH metric=METRIC
    # jackson: lambda=PATH feedback=PATH servers=PATH,PATH service_mean_days=PATH,PATH metric=METRIC

A Jackson header describes stations visited in order (1, 2, ...); after the last station a
job leaves with probability ``1 - feedback`` and returns to station 1 otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import UserError


def erlang_b(servers: int, offered: float) -> float:
    """Erlang B blocking probability, by the stable recursion B(k) = aB(k-1)/(k + aB(k-1))."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered * b / (k + offered * b)
    return b


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load ``lambda/mu``."""
    if offered >= servers:
        raise ValueError(f"unstable: offered load {offered:g} >= {servers} servers")
    b = erlang_b(servers, offered)
    return servers * b / (servers - offered * (1 - b))


@dataclass(frozen=True)
class MMc:
    """An M/M/c queue: arrival rate, servers, mean service time (consistent time units)."""

    arrival_rate: float
    servers: int
    service_mean: float

    @property
    def offered(self) -> float:
        return self.arrival_rate * self.service_mean

    @property
    def utilization(self) -> float:
        return self.offered / self.servers

    @property
    def wait_mean(self) -> float:
        """Mean time in queue, Wq = C(c, a) / (c mu - lambda)."""
        mu = 1.0 / self.service_mean
        return erlang_c(self.servers, self.offered) / (self.servers * mu - self.arrival_rate)

    @property
    def sojourn_mean(self) -> float:
        return self.wait_mean + self.service_mean

    @property
    def number_in_system_mean(self) -> float:
        return self.arrival_rate * self.sojourn_mean  # Little's law


def run_length(q: MMc, replications: int, precision: float = 0.05) -> tuple[float, float]:
    """A warm-up and a run length (days) for estimating the mean wait of the M/M/c queue
    ``q`` within ``precision`` (relative half-width of a 95% interval) from
    ``replications`` runs that start empty.

    The warm-up is five relaxation times, 1 / (c mu (1 - sqrt(rho))^2) (the M/M/1 value,
    Abate and Whitt 1987, with the c servers taken as one fast server). The run length
    comes from the asymptotic variance of the time-average number waiting, whose relative
    value per unit time is 2 (1 + rho) / (C rho (1 - rho)^2 c mu) (the M/M/1 value of
    Whitt 1989 given the chance C of waiting): the run needs z^2 times that, over
    precision^2 and the replications. At rho = 0.95 with c = 1 this is about 7,800 days of
    warm-up and, at 10% with 8 replications, 83,000 days of run.
    """
    rho = q.utilization
    if not 0 < rho < 1:
        raise ValueError(f"utilisation {rho:g}: the queue has no steady state")
    rate = q.servers / q.service_mean  # c mu
    waits = erlang_c(q.servers, q.offered)
    warmup = 5 / (rate * (1 - math.sqrt(rho)) ** 2)
    per_day = 2 * (1 + rho) / (waits * rho * (1 - rho) ** 2 * rate)
    return warmup, 1.96**2 * per_day / (precision**2 * replications)


def jackson_feedback_sojourn(
    arrival_rate: float, feedback: float, servers: Sequence[int], service_means: Sequence[float]
) -> float:
    """Mean time in system of an open Jackson network of M/M/c stations visited in order,
    with feedback to the first station with probability ``feedback`` after the last.

    Traffic equations: every station sees ``lambda / (1 - feedback)``; by the product form
    each behaves as an independent M/M/c queue, and W = sum(L_i) / lambda.
    """
    if not 0 <= feedback < 1:
        raise ValueError("feedback must be in [0, 1)")
    rate = arrival_rate / (1 - feedback)
    total_in_system = sum(
        MMc(rate, c, s).number_in_system_mean for c, s in zip(servers, service_means, strict=True)
    )
    return total_in_system / arrival_rate


# ---------------------------------------------------------------- header lines

_HEADER = re.compile(r"^#\s*(erlang-c|jackson):\s*(.+)$")


@dataclass(frozen=True)
class TheoryCheck:
    """A closed-form check declared in a scenario file's header."""

    kind: str  # "erlang-c" or "jackson"
    params: dict[str, str]  # name -> field path(s)
    metric: str

    def paths(self) -> dict[str, list[str]]:
        return {k: v.split(",") for k, v in self.params.items()}

    def expected(self, resolved: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        """The closed-form value of ``metric`` and the parameter values it used."""
        vals = {k: [field_value(resolved, p) for p in ps] for k, ps in self.paths().items()}
        equal = vals.pop("equal", [])
        if len(set(map(float, equal))) > 1:
            raise UserError(
                f"{self.kind}: the closed form needs {' and '.join(self.paths()['equal'])} "
                f"to be equal (they are {', '.join(map(str, equal))})"
            )
        if self.kind == "erlang-c":
            q = MMc(
                float(vals["lambda"][0]),
                int(vals["servers"][0]),
                float(vals["service_mean_days"][0]),
            )
            shown: dict[str, Any] = {
                "lambda": q.arrival_rate,
                "servers": q.servers,
                "service_mean_days": q.service_mean,
                "utilization": q.utilization,
            }
            by_metric = {
                "officer_wait_days_mean": q.wait_mean,
                "time_to_close_days_mean": q.sojourn_mean,
                "time_in_system_days_mean": q.sojourn_mean,
                "backlog_mean": q.number_in_system_mean,
            }
        else:
            lam, p = float(vals["lambda"][0]), float(vals["feedback"][0])
            servers = [int(v) for v in vals["servers"]]
            means = [float(v) for v in vals["service_mean_days"]]
            rate = lam / (1 - p)
            shown = {
                "lambda": lam,
                "feedback": p,
                "servers": servers,
                "service_mean_days": means,
                "utilization": [rate * s / c for c, s in zip(servers, means, strict=True)],
            }
            w = jackson_feedback_sojourn(lam, p, servers, means)
            by_metric = {
                "time_to_close_days_mean": w,
                "time_in_system_days_mean": w,
                "backlog_mean": lam * w,
            }
        if self.metric not in by_metric:
            raise UserError(
                f"{self.kind}: metric '{self.metric}' has no closed form here "
                f"(one of: {', '.join(by_metric)})"
            )
        return by_metric[self.metric], shown


def field_value(resolved: dict[str, Any], path: str) -> Any:
    """The value at a dotted path of a resolved scenario (a distribution's mean included)."""
    node: Any = resolved
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise UserError(f"theory header: no field '{path}' in the scenario")
    if isinstance(node, dict) and node.get("kind") == "constant" and path.endswith(".mean"):
        return node["value"]
    return node


def read_check(path: str | Path) -> TheoryCheck | None:
    """The closed-form check declared in the header of a scenario file, if any."""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            break
        m = _HEADER.match(line.strip())
        if m:
            kind, rest = m.groups()
            params = dict(tok.split("=", 1) for tok in rest.split() if "=" in tok)
            metric = params.pop("metric", None)
            need = {
                "erlang-c": {"lambda", "servers", "service_mean_days"},
                "jackson": {"lambda", "feedback", "servers", "service_mean_days"},
            }[kind]
            missing = need - set(params)
            if metric is None or missing:
                raise UserError(
                    f"{path}: {kind} header needs {', '.join(sorted(missing | {'metric'}))}"
                )
            return TheoryCheck(kind, params, metric)
    return None
