"""Python's small objects on transparent huge pages, for long replications.

A national replication holds hundreds of megabytes of small objects (open matters, their
waits, their draws) and touches them in no particular order, months apart. With 4 KiB
pages nearly every such touch also misses the processor's TLB, a cost that grows with the
size of the run. :func:`use_huge_pages` puts an arena allocator in front of CPython's
(``sim/engine/_arenas.c``, built by the normal install): the 1 MiB arenas that CPython
carves small objects from are served from 2 MiB-aligned regions of 64 MiB that the kernel
is asked to back with huge pages (``madvise(MADV_HUGEPAGE)``; Linux honours it when
``/sys/kernel/mm/transparent_hugepage/enabled`` is ``always`` or ``madvise``).

Only where objects lie changes, never what they hold: results are the same bits with or
without it. It is used by every replication (:func:`sim.engine.replication.run_once`);
``CHAKONG_HUGE_PAGES=0`` turns it off (for comparisons). Where the extension was not built
(no C compiler at install) or the platform has no such call, nothing changes.
"""

from __future__ import annotations

import os
from typing import Any

_OFF = "CHAKONG_HUGE_PAGES"


def use_huge_pages() -> bool:
    """Serve CPython's arenas from huge-page regions from now on, in this process (once;
    later calls do nothing). True if the allocator is in place."""
    if os.environ.get(_OFF, "1") == "0":
        return False
    try:
        from sim.engine import _arenas
    except ImportError:  # not built here
        return False
    _arenas.install()
    return True


def huge_pages() -> dict[str, Any]:
    """What this process has: ``installed`` (the allocator is in place), ``advised`` (the
    kernel took the advice for a region), ``regions`` of 64 MiB reserved, and
    ``spare_arenas`` given back and kept for reuse."""
    try:
        from sim.engine import _arenas
    except ImportError:
        return {"installed": False, "advised": False, "regions": 0, "spare_arenas": 0}
    return dict(_arenas.status())
