"""The case loop refuses requests with the project's API error (gisapp.errors), under its old name."""

from __future__ import annotations

from gisapp.errors import ApiError as CaseError

__all__ = ["CaseError"]
