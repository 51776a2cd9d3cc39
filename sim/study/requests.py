"""The requests a court's work puts on the query-and-control network, by logical name.

The simulation says *what* a court asks of the network, never how a deployment carries it:
that is the load half's business (``load.harness.plan.SIMULATED`` maps each name below to
its logical request and HTTP call). The names:

- ``file_case``: a matter to enforce enters the network (立案: ``filed``, ``restored``);
- ``query central``, ``query local``: the court asks what a debtor owns over one channel
  (查询: 总对总 central, 点对点 local), one request per case, channel and instant;
- ``control freeze``, ``control renew``, ``control deduct``, ``control unfreeze``: an
  online control by action (冻结, 续冻, 划扣, 解冻); a control done in person never reaches
  the network and is counted apart.

Reading answers (polling a query or a control) is not simulated: how often a court's system
asks is a property of the client, so the load half derives those rates itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from sim.scenario.schema import ChannelName

FILE_CASE = "file_case"
QUERY = "query"
CONTROL = "control"
CONTROL_ACTIONS = ("freeze", "renew", "deduct", "unfreeze")


def query(channel: str) -> str:
    """The name of a query over ``channel``: ``query central``."""
    return f"{QUERY} {ChannelName(channel).value}"


def control(action: str) -> str:
    """The name of an online control: ``control deduct``."""
    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown control action '{action}'")
    return f"{CONTROL} {action}"


def names(channels: Iterable[str] = tuple(ChannelName)) -> list[str]:
    """Every request name over ``channels`` (default: every channel there is), in the order
    tables show them."""
    return [FILE_CASE, *(query(c) for c in channels), *(control(a) for a in CONTROL_ACTIONS)]


def split(name: str) -> tuple[str, str]:
    """``query central`` -> (``query``, ``central``); ``file_case`` -> (``file_case``, '')."""
    kind, _, detail = name.partition(" ")
    return kind, detail
