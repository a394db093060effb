"""report.html in a real browser: headless Chromium (Debian's `chromium`) loads a small real run's
report, every image must have decoded, and the numbers shown must be metrics.json's."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight]);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, text: document.body.innerText});
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, mnist_dir):
    from compare.cli import main

    out = tmp_path_factory.mktemp("run")
    code = main(
        ["run", "--impl", "numpy", "--epochs", "2", "--limit", "6000",
         "--data-dir", str(mnist_dir), "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package chromium)")
def test_report_html_loads_with_every_figure_and_the_right_numbers(small_run, tmp_path):
    page = (small_run / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the page did not finish loading"
    import html

    result = json.loads(html.unescape(match.group(1)))
    metrics = json.loads((small_run / "metrics.json").read_text())
    pngs = [a for a in metrics["artifacts"] if a.endswith(".png")]
    assert len(result["images"]) == len(pngs) >= 6
    for alt, width, height in result["images"]:
        assert width > 100 and height > 100, alt
    text = result["text"]
    assert "complete" in text
    for key in ("train_accuracy", "test_accuracy"):
        assert f"{metrics['numpy'][key]:.2f}" in text
    assert f"{metrics['numpy_gradcheck']['matrices'][0]['max_rel_error']:.2e}" in text
    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=390,2000", small_run.joinpath(
            "report.html").as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    assert shot.stat().st_size > 10_000  # a phone-width screenshot was drawn


def test_interrupted_run_leaves_a_valid_report(small_run, tmp_path):
    """The HTML is rewritten with the status at every save: an interrupted run's page says so."""
    from compare.html import markdown_to_html

    report = (small_run / "report.md").read_text().replace("**complete**", "**interrupted**")
    page = markdown_to_html(report, small_run, title="t")
    assert 'class="status status-interrupted"' in page and page.rstrip().endswith("</html>")
