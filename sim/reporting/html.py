"""Small builders of a self-contained HTML page: escaped text, tables, embedded images.

Images are PNG bytes embedded as ``data:`` URIs, the style sheet is inline (with the glyphs
of the page's Chinese terms as an embedded font), and the page's Content-Security-Policy
forbids every other source, so the report needs no network and a
browser reports any attempt to reach one.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

from sim.reporting.fonts import with_cjk_font

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
       "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #28415e; color: #fff; padding: 1.2em 2em; }
header h1 { margin: 0 0 .3em 0; font-size: 1.5em; }
header p { margin: .2em 0; opacity: .9; }
nav { padding: .6em 2em; background: #e9eef4; font-size: .9em; }
nav a { margin-right: 1.2em; color: #28415e; }
main { padding: 0 2em 3em 2em; max-width: 1250px; }
h2 { border-bottom: 2px solid #28415e; padding-bottom: .2em; margin-top: 1.8em; }
h3 { margin-top: 1.4em; }
div.wide { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; background: #fff; }
th, td { border: 1px solid #d5dbe2; padding: .3em .6em; }
th { background: #eef2f6; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.significant td { background: #fff6e0; }
td.yes { color: #a35200; font-weight: bold; }
td.bad { color: #b00020; font-weight: bold; }
figure { margin: 1em 0; background: #fff; border: 1px solid #d5dbe2; padding: .5em;
         display: inline-block; max-width: 100%; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: .85em; color: #555; margin-top: .3em; max-width: 900px; }
pre { background: #fff; border: 1px solid #d5dbe2; padding: .8em; overflow-x: auto;
      font-size: .82em; max-height: 40em; }
details { margin: .5em 0; }
summary { cursor: pointer; font-weight: 600; }
p.note { color: #555; font-size: .9em; max-width: 900px; }
.verdict { background: #fff; border-left: 4px solid #28415e; padding: .4em .8em; margin: .5em 0;
           max-width: 900px; }
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def image(png: bytes | None, alt: str, caption: str = "") -> str:
    """A figure with the PNG embedded, or a note when there is nothing to plot."""
    if png is None:
        return f'<p class="note">{esc(alt)}: nothing to plot in this results folder.</p>'
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">{cap}</figure>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    numeric: Sequence[int] = (),
    row_classes: Sequence[str] | None = None,
    cell_classes: dict[tuple[int, int], str] | None = None,
) -> str:
    """An HTML table; columns in ``numeric`` are right-aligned. Cells are escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = []
        for j, cell in enumerate(row):
            classes = ["num"] if j in numeric else []
            if cell_classes and (i, j) in cell_classes:
                classes.append(cell_classes[(i, j)])
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{esc(cell)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (
        f'<div class="wide"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def details(summary: str, body: str, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: Sequence[str], sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole document: ``sections`` are (anchor, title, body HTML), with the glyphs of
    its Chinese terms embedded (:func:`sim.reporting.fonts.with_cjk_font`)."""
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    subs = "".join(f"<p>{s}</p>" for s in subtitle)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return with_cjk_font(
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><header><h1>{esc(title)}</h1>{subs}</header><nav>{nav}</nav>"
        f"<main>{body}</main></body></html>\n"
    )
