"""The one exception an API operation raises to refuse a request: an HTTP status and a reason in zh/en.

Rendered by the API layer (gisapp.api) in the one error shape, `{"code", "error": {"zh", "en"}, …}`
(gisapp.views.error_json); extra keyword fields (a hint, the current version …) travel with it.
"""

from __future__ import annotations

from django.http import JsonResponse


class ApiError(Exception):
    def __init__(self, status: int, zh: str, en: str, **extra):
        super().__init__(en)
        self.status, self.zh, self.en, self.extra = status, zh, en, extra

    def response(self) -> JsonResponse:
        from gisapp.views import error_json

        return error_json(self.status, self.zh, self.en, **self.extra)
