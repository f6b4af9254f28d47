"""Why an operation or a request is refused, in the API's one error shape."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

from gisapp.errors import ApiError


class Refusal(ApiError):
    """A 4xx answer: HTTP status, a stable machine-readable reason, the reason in Chinese and English,
    and anything that helps the editor show where (grid codes, a point, areas).  An ApiError, so the API
    layer renders it like every other refusal."""

    def __init__(self, status: int, reason: str, zh: str, en: str, **detail: Any) -> None:
        super().__init__(status, zh, en, reason=reason, **detail)
        self.reason = reason
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.status,
            "reason": self.reason,
            "error": {"zh": self.zh, "en": self.en},
            **self.detail,
        }

    def response(self) -> JsonResponse:
        """The payload as it is (detail values that are None included, as the editor reads them)."""
        return JsonResponse(self.payload(), status=self.status, json_dumps_params={"ensure_ascii": False})
