"""Which modules the install compiles with mypyc, and running them as Python.

The normal install (``pip install -e .`` or a wheel) compiles with
`mypyc <https://mypyc.readthedocs.io>`_ every module of :mod:`sim.model` but this one,
``__init__`` and the C kernels (``_keyed``: the keyed draw and the rounding; ``_blocks``:
blocks of draws; ``_free_times``: a desk's heap of free times; ``_send``: a task's step;
``_heap``: heapq's push and pop; ``_later``: the clock's later hours, times unboxed), and
the model's event sink :mod:`sim.results.observer` with its :mod:`sim.results.hdr_tally`:
the same code, typed as it already is for mypy, built as C extensions that Python imports
before the ``.py`` beside them. The results are the same
bits; the model runs about 3 times as fast.

A compiled module no longer follows its source: in a source checkout, a model file edited
(or changed by ``git pull``) after the build would be shadowed by its stale extension. So
when a source differs from the one compiled, or when ``CHAKONG_INTERPRETED=1`` is set (for
profilers such as py-spy, for coverage, for a debugger), every compiled module is imported
from its source instead (:func:`prefer_sources`, called as :mod:`sim.model` is imported,
which the observer imports too): all or none, since compiled modules call each other
directly. A stale build says so once, on standard error.

``setup.py`` reads :data:`COMPILED` from this file without importing the package, and
writes :data:`BUILT_FROM` beside it after an in-place build (an editable install) that
built every extension.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, SourceFileLoader
from importlib.util import spec_from_file_location
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]  # the folder that holds the package ``sim``
COMPILED = (  # the modules, by name (:func:`source` is the file of each)
    *sorted(f"sim.model.{p.stem}" for p in HERE.glob("*.py") if not p.stem.startswith("_")),
    "sim.results.hdr_tally",
    "sim.results.observer",
)
ENV = "CHAKONG_INTERPRETED"
BUILT_FROM = HERE / "_built_from.json"  # the digests of the sources compiled (source checkouts)


def source(module: str) -> Path:
    """The source file of a compiled module (``sim.model.world``: ``sim/model/world.py``)."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def extension(module: str) -> Path | None:
    """The compiled extension of ``module`` beside its source, if built."""
    folder, stem = source(module).parent, module.rpartition(".")[2]
    for suffix in EXTENSION_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return path
    return None


def digests() -> dict[str, str]:
    """The SHA-256 of each compiled module's source, as it is now."""
    return {name: hashlib.sha256(source(name).read_bytes()).hexdigest() for name in COMPILED}


def stale() -> list[str]:
    """The compiled modules whose source changed after the build compiled them (the build
    writes :data:`BUILT_FROM`; a wheel, whose sources cannot change, has none)."""
    try:
        built = json.loads(BUILT_FROM.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [name for name, digest in digests().items() if built.get(name) != digest]


def compiled() -> bool:
    """Whether the model runs compiled in this process (its modules imported or not)."""
    module = sys.modules.get("sim.model.world")
    if module is None:
        return not os.environ.get(ENV) and extension("sim.model.world") is not None and not stale()
    return not str(getattr(module, "__file__", "")).endswith(".py")


class _SourcesFirst:
    """A finder that imports the compiled modules from their ``.py`` files."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        file = source(fullname)
        return spec_from_file_location(fullname, file, loader=SourceFileLoader(fullname, str(file)))


def prefer_sources() -> None:
    """Import the model from its sources when asked to, or when the build is stale."""
    edited = stale()
    if not os.environ.get(ENV) and not edited:
        return
    if edited and not os.environ.get(ENV):
        print(
            f"chakong: {source(edited[0]).relative_to(ROOT)}"
            + (f" and {len(edited) - 1} more compiled files" if len(edited) > 1 else "")
            + " changed after the compiled build; running the model as Python (slower). "
            "Rebuild with: pip install -e .",
            file=sys.stderr,
        )
    if not any(isinstance(f, _SourcesFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())
