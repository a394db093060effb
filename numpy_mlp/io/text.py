"""Short reprs for error messages."""

from __future__ import annotations


def brief(value, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters: an error message echoes what it was given, not a
    megabyte of it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text):,} characters)"
