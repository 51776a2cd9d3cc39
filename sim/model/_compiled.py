"""Which modules of the model the install compiles with mypyc, and running them as Python.

The normal install (``pip install -e .`` or a wheel) compiles every module of
:mod:`sim.model` but this one, ``__init__`` and ``_keyed`` (the keyed draw, in C) with
`mypyc <https://mypyc.readthedocs.io>`_: the same code, typed as it already is for mypy,
built as C extensions that Python imports before the ``.py`` beside them. The results are
the same bits; the model runs 1.5 to 1.7 times as fast.

A compiled module no longer follows its source: in a source checkout, a model file edited
(or changed by ``git pull``) after the build would be shadowed by its stale extension. So
when a source differs from the one compiled, or when ``CHAKONG_INTERPRETED=1`` is set (for
profilers such as py-spy, for coverage, for a debugger), every module of the model is
imported from its source instead (:func:`prefer_sources`): all or none, since compiled
modules call each other directly. A stale build says so once, on standard error.

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
COMPILED = tuple(
    sorted(p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_"))
)  # the module names; their sources are HERE / f"{name}.py"
ENV = "CHAKONG_INTERPRETED"
BUILT_FROM = HERE / "_built_from.json"  # the digests of the sources compiled (source checkouts)


def extension(name: str) -> Path | None:
    """The compiled extension of model module ``name`` beside its source, if built."""
    for suffix in EXTENSION_SUFFIXES:
        path = HERE / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def digests() -> dict[str, str]:
    """The SHA-256 of each compiled module's source, as it is now."""
    return {
        name: hashlib.sha256((HERE / f"{name}.py").read_bytes()).hexdigest() for name in COMPILED
    }


def stale() -> list[str]:
    """The model's modules whose source changed after the build compiled them (the build
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
        return not os.environ.get(ENV) and extension("world") is not None and not stale()
    return not str(getattr(module, "__file__", "")).endswith(".py")


class _SourcesFirst:
    """A finder that imports the model's modules from their ``.py`` files."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != "sim.model" or name not in COMPILED:
            return None
        source = HERE / f"{name}.py"
        return spec_from_file_location(
            fullname, source, loader=SourceFileLoader(fullname, str(source))
        )


def prefer_sources() -> None:
    """Import the model from its sources when asked to, or when the build is stale."""
    edited = stale()
    if not os.environ.get(ENV) and not edited:
        return
    if edited and not os.environ.get(ENV):
        print(
            f"chakong: sim/model/{edited[0]}.py"
            + (f" and {len(edited) - 1} more model files" if len(edited) > 1 else "")
            + " changed after the compiled build; running the model as Python (slower). "
            "Rebuild with: pip install -e .",
            file=sys.stderr,
        )
    if not any(isinstance(f, _SourcesFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())
