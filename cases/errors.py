"""The one exception the case loop raises for a refused request: an HTTP status and a reason in zh/en."""

from __future__ import annotations


class CaseError(Exception):
    def __init__(self, status: int, zh: str, en: str, **extra):
        super().__init__(en)
        self.status, self.zh, self.en, self.extra = status, zh, en, extra

    def response(self):
        from gisapp.views import error_json

        return error_json(self.status, self.zh, self.en, **self.extra)
