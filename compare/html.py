"""report.html: the Markdown report as one self-contained page that opens in any browser.

The page is made from report.md itself (so the two never disagree): headings, paragraphs, lists,
tables, code and images, the images embedded as data: URIs. No network, no JavaScript, a little
CSS that reads on a laptop and on a phone. Only the Markdown the project's reports use is
understood; anything else is shown as text.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from numpy_mlp.io.atomic import atomic_write_text

STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
pre { background: #f5f5f5; padding: 0.5rem; overflow-x: auto; }
code { background: #f5f5f5; padding: 0 0.2rem; }
.status { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.3rem; background: #eee; }
.status-complete { background: #d8f0d8; } .status-failed { background: #f6d5d5; }
.status-interrupted, .status-running { background: #f6ecd0; }
"""

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)$")


def _inline(text: str) -> str:
    """Escape, then **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _image(alt: str, src: str, folder: Path) -> str:
    path = folder / src
    if "/" in src or not path.is_file():
        return f"<p>[{html.escape(alt)}: {html.escape(src)} is not available]</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def _table(rows: list[str]) -> str:
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    head, body = cells[0], [r for r in cells[2:]]
    out = ["<table><thead><tr>", *(f"<th>{_inline(c)}</th>" for c in head), "</tr></thead><tbody>"]
    for row in body:
        out += ["<tr>", *(f"<td>{_inline(c)}</td>" for c in row), "</tr>"]
    return "".join([*out, "</tbody></table>"])


def markdown_to_html(markdown: str, folder: Path, *, title: str) -> str:
    """The page for `markdown` (a report.md), images read from `folder` and embedded."""
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body.append(f"<pre>{html.escape(chr(10).join(lines[i + 1 : j]))}</pre>")
            i = j + 1
        elif line.startswith("    "):
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            block = "\n".join(x[4:] for x in lines[i:j]).rstrip()
            body.append(f"<pre>{html.escape(block)}</pre>")
            i = j
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
            i += 1
        elif (match := _IMAGE.match(line.strip())) is not None:
            body.append(_image(match["alt"], match["src"], folder))
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            body.append(_table(lines[i:j]))
            i = j
        elif line.startswith("* "):
            items = []
            while i < len(lines) and lines[i].strip():
                if lines[i].startswith("* "):
                    items.append(lines[i][2:])
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            body.append("<ul>" + "".join(f"<li>{_inline(x)}</li>" for x in items) + "</ul>")
        else:
            j = i
            while j < len(lines) and lines[j].strip() and not lines[j].startswith(("#", "|", "!")):
                j += 1
            body.append(f"<p>{_inline(' '.join(x.strip() for x in lines[i:j]))}</p>")
            i = max(j, i + 1)
    page = "\n".join(body)
    page = re.sub(
        r"Status: <strong>(\w+)</strong>",
        lambda m: f'Status: <span class="status status-{m[1]}"><strong>{m[1]}</strong></span>',
        page,
        count=1,
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        f"{page}\n</body></html>\n"
    )


def write_html(markdown: str, folder: Path, *, title: str) -> None:
    """report.html beside report.md in `folder`, written atomically."""
    atomic_write_text(folder / "report.html", markdown_to_html(markdown, folder, title=title))
