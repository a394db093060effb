"""report.html: the Markdown report as one self-contained page that opens in any browser.

The page is made from report.md itself (so the two never disagree) by markdown-it-py (CommonMark
with tables). This module adds only what is the project's own: the page shell with a little CSS,
the status badge, and the figures, embedded as data: URIs. No network, no JavaScript.

On a phone (a screen narrower than 40rem), a figure drawn wider than 40rem (640 px: the
multi-panel ones, e.g. the 50 hidden units or the misclassified digits) is shown 40rem wide and
scrolls sideways inside its frame, instead of shrinking to the screen's ~360 px where its panels'
labels cannot be read; the caption says so.
"""

from __future__ import annotations

import base64
import html
import re
import struct
from pathlib import Path

from markdown_it import MarkdownIt

from numpy_mlp.io.atomic import atomic_write_text

STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; display: block; overflow-x: auto; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1rem 0; }
figure .frame { overflow-x: auto; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9rem; color: #555; }
.hint { display: none; }
@media (max-width: 40rem) {
  figure.wide img { max-width: none; width: 40rem; }
  figure.wide .hint { display: inline; }
}
pre { background: #f5f5f5; padding: 0.5rem; overflow-x: auto; }
code { background: #f5f5f5; padding: 0 0.2rem; }
.status { display: inline-block; padding: 0.1rem 0.5rem; border-radius: 0.3rem; background: #eee; }
.status-complete { background: #d8f0d8; } .status-failed { background: #f6d5d5; }
.status-interrupted, .status-running { background: #f6ecd0; }
"""

PHONE_WIDTH = 640  # px (40rem): a figure drawn wider than this scrolls on a phone, not shrinks


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if `data` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


MAX_FIGURE_BYTES = 32 * 2**20  # the largest figure embedded in report.html


def figure(alt: str, src: str, folder: Path) -> str:
    """An image of `folder` embedded as a data: URI in a <figure> with its caption."""
    from numpy_mlp.io.reading import UnreadableFileError, read_bounded

    path = folder / src
    try:  # a regular file of the folder, of a figure's size at most
        data = None if "/" in src else read_bounded(path, MAX_FIGURE_BYTES)
    except UnreadableFileError:
        data = None
    if data is None:
        return f"<p>[{html.escape(alt)}: {html.escape(src)} is not available]</p>"
    size = png_size(data)
    wide = size is not None and size[0] > PHONE_WIDTH
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    hint = '<span class="hint"> (scroll sideways for the rest)</span>' if wide else ""
    encoded = base64.b64encode(data).decode("ascii")
    kind = ' class="wide"' if wide else ""
    return (
        f'<figure{kind}><div class="frame"><img alt="{html.escape(alt)}"'
        f'{dims} src="data:image/png;base64,{encoded}"></div>'
        f"<figcaption>{html.escape(alt)}{hint}</figcaption></figure>\n"
    )


def _alone(tokens, idx: int) -> bool:
    """Is tokens[idx] (an inline token) a paragraph's only content, one image?"""
    token = tokens[idx] if 0 <= idx < len(tokens) else None
    return (
        token is not None
        and token.type == "inline"
        and len(token.children or []) == 1
        and token.children[0].type == "image"
    )


def _parser(folder: Path) -> MarkdownIt:
    """CommonMark + tables; raw HTML in the Markdown is escaped; an image alone in its paragraph
    becomes an embedded <figure>."""
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_open = md.renderer.rules.get("paragraph_open")
    default_close = md.renderer.rules.get("paragraph_close")

    def paragraph_open(self, tokens, idx, options, env):
        if _alone(tokens, idx + 1):
            return ""
        return (
            default_open(tokens, idx, options, env)
            if default_open
            else self.renderToken(tokens, idx, options, env)
        )

    def paragraph_close(self, tokens, idx, options, env):
        if _alone(tokens, idx - 1):
            return ""
        return (
            default_close(tokens, idx, options, env)
            if default_close
            else self.renderToken(tokens, idx, options, env)
        )

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        return figure(alt, str(token.attrGet("src") or ""), folder)

    md.add_render_rule("paragraph_open", paragraph_open)
    md.add_render_rule("paragraph_close", paragraph_close)
    md.add_render_rule("image", image)
    return md


def markdown_to_html(markdown: str, folder: Path, *, title: str) -> str:
    """The page for `markdown` (a report.md), images read from `folder` and embedded."""
    page = _parser(Path(folder)).render(markdown)
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
