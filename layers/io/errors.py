"""Errors that carry a message meant for the user (Chinese first, then English)."""

from __future__ import annotations


class LayerIOError(Exception):
    """A problem with the request or the file as a whole; the message is shown to the user as is."""


class FeatureError(ValueError):
    """One attribute or geometry of one feature is unacceptable; collected, never raised to the user."""
