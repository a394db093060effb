"""Progress bars (tqdm) that appear only when stderr is a terminal, so logs stay clean."""

from __future__ import annotations


def progress_bar(**kwargs):
    """A tqdm bar on stderr, disabled when stderr is not a terminal (tqdm's disable=None)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", False)
    kwargs.setdefault("mininterval", 0.2)
    return tqdm(disable=None, **kwargs)
