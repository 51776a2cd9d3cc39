"""Chinese terms in reports on any machine: a CJK font that the install brings.

chakong depends on ``noto-cjk-sans-otc`` (Noto Sans CJK, SIL Open Font License 1.1, a
wheel on PyPI), so 终本, 轮候, 冻结 ... render as characters, not empty boxes, on a machine
with no CJK font of its own:

- **PNG plots**: :func:`plot_fonts` registers the font with matplotlib once and returns a
  font-family list (DejaVu Sans first, Noto Sans CJK SC for what it lacks) for
  ``rc_context``;
- **HTML**: :func:`with_cjk_font` embeds a subset of the font (only the CJK characters the
  page uses, a few kilobytes of WOFF2) as a ``data:`` URI and allows ``font-src data:`` in
  the page's Content-Security-Policy, so the page needs neither the network nor a font on
  the reader's machine.

When the package is missing, a CJK font matplotlib finds on the machine is used instead;
without either, the text falls back to the reader's fonts (plots draw boxes, quietly).
Both halves' reports use it: :func:`sim.reporting.html.page` embeds the font in every page,
:func:`cjk_plots` is the context every plot is drawn in.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FAMILY = "chakong CJK"
SYSTEM_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
)  # fmt: skip
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
SC_FACE = "Noto Sans CJK SC"


@functools.cache
def font_file() -> tuple[Path, int] | None:
    """The CJK font file and the index of its Simplified Chinese face, if any."""
    try:
        from noto_cjk_sans_otc import FONT_PATH  # the font the install brings
    except ImportError:
        FONT_PATH = None
    if FONT_PATH is not None and Path(str(FONT_PATH)).exists():
        path = Path(str(FONT_PATH))
        from fontTools.ttLib import TTCollection

        with TTCollection(str(path), lazy=True) as collection:
            names = [f["name"].getDebugName(1) for f in collection.fonts]
        return path, names.index(SC_FACE) if SC_FACE in names else 0
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if entry.name in SYSTEM_FONTS:
            return Path(entry.fname), 0
    return None


@functools.cache
def plot_fonts() -> tuple[str, ...]:
    """matplotlib's font families for a plot: DejaVu Sans, then a CJK face."""
    from matplotlib import font_manager

    found = font_file()
    if found is not None:
        font_manager.fontManager.addfont(str(found[0]))
    have = {f.name for f in font_manager.fontManager.ttflist}
    return ("DejaVu Sans", *(name for name in SYSTEM_FONTS if name in have))


@contextmanager
def cjk_plots() -> Iterator[None]:
    """Draw matplotlib figures with the CJK fallback fonts, and without warnings about
    glyphs that no font has."""
    import matplotlib

    with matplotlib.rc_context({"font.family": list(plot_fonts())}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield


def cjk_characters(text: str) -> str:
    return "".join(sorted(set(_CJK.findall(text))))


@functools.lru_cache(maxsize=16)
def _subset(characters: str) -> tuple[str, str] | None:
    found = font_file()
    if found is None or not characters:
        return None
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path, index = found
    options = subset.Options()
    options.layout_features = []
    options.hinting = False
    options.name_IDs = [1, 2]
    buf = io.BytesIO()
    # lazy: read eagerly, the layout tables (GSUB, GPOS: every lookup of a 65,000-glyph
    # font) were decompiled whole only to be emptied; read lazily, the same bytes come about
    # a third faster
    with TTFont(str(path), fontNumber=index, lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        try:
            import brotli  # noqa: F401  (WOFF2 needs it; fontTools[woff])

            font.flavor, mime = "woff2", "font/woff2"
        except ImportError:
            font.flavor, mime = None, "font/otf"
        font.save(buf)
    return mime, base64.b64encode(buf.getvalue()).decode("ascii")


def with_cjk_font(document: str) -> str:
    """``document`` (a whole HTML page) with its CJK characters' glyphs embedded."""
    found = _subset(cjk_characters(document))
    if found is None:
        return document
    mime, data = found
    face = (
        f'@font-face {{ font-family: "{FAMILY}"; font-display: block; '
        f"src: url(data:{mime};base64,{data}); }}\n"
        # first in the list: it has CJK glyphs only, so Latin text falls through to the rest
        f'body {{ font-family: "{FAMILY}", system-ui, -apple-system, "Segoe UI", "Noto Sans", '
        "sans-serif; }\n"
    )
    document = document.replace("</style>", face + "</style>", 1)
    return document.replace("default-src 'none';", "default-src 'none'; font-src data:;", 1)
