"""report.html from report.md: markdown-it-py renders the Markdown; html.py adds the page shell,
the status badge and the embedded figures (wide ones scroll on a phone instead of shrinking)."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from compare.html import markdown_to_html, png_size

REPORT = """# Title with `code`

Status: **running**. Plain <b>not html</b> & more.

| model | value |
|---|---|
| NumPy | **1.5** |

* one item
  continued
* two `W_h`

```
fenced
```

    indented code

![narrow figure](narrow.png)

![wide figure](wide.png)

![missing figure](gone.png)
"""


def _png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def page(tmp_path):
    (tmp_path / "narrow.png").write_bytes(_png(300, 200))
    (tmp_path / "wide.png").write_bytes(_png(1000, 600))
    return markdown_to_html(REPORT, tmp_path, title="A <title>")


def test_markdown_is_rendered_by_the_library(page):
    assert "<h1>Title with <code>code</code></h1>" in page
    assert "<table>" in page and "<td><strong>1.5</strong></td>" in page
    assert "<li>one item\ncontinued</li>" in page and "<code>W_h</code>" in page
    assert "<pre><code>fenced\n</code></pre>" in page
    assert "<pre><code>indented code\n</code></pre>" in page


def test_raw_html_in_the_markdown_is_escaped(page):
    assert "&lt;b&gt;not html&lt;/b&gt; &amp; more" in page and "<b>" not in page
    assert "<title>A &lt;title&gt;</title>" in page


def test_status_badge(page):
    assert 'Status: <span class="status status-running"><strong>running</strong></span>' in page


def test_figures_are_embedded_and_wide_ones_scroll_on_a_phone(page, tmp_path):
    narrow = base64.b64encode((tmp_path / "narrow.png").read_bytes()).decode()
    assert f'<figure><div class="frame"><img alt="narrow figure" width="300" height="200" ' \
        f'src="data:image/png;base64,{narrow}">' in page  # fmt: skip
    assert '<figure class="wide"><div class="frame"><img alt="wide figure" width="1000"' in page
    assert page.count("scroll sideways") == 1
    assert "<p><figure" not in page  # a figure is not wrapped in a paragraph
    assert "[missing figure: gone.png is not available]" in page
    assert "@media (max-width: 40rem)" in page and "figure.wide img { max-width: none;" in page
    assert "<script" not in page and "http" not in page.replace('"http-equiv"', "")


def test_png_size_reads_the_header():
    assert png_size(_png(7, 3)) == (7, 3)
    assert png_size(b"GIF89a" + b"\0" * 30) is None
