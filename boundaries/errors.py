"""Why an operation or a request is refused, in the API's one error shape."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A 4xx answer: HTTP status, a stable machine-readable reason, the reason in Chinese and English,
    and anything that helps the editor show where (grid codes, a point, areas)."""

    def __init__(self, status: int, reason: str, zh: str, en: str, **detail: Any) -> None:
        super().__init__(en)
        self.status = status
        self.reason = reason
        self.zh = zh
        self.en = en
        self.detail = detail

    def payload(self) -> dict[str, Any]:
        return {
            "code": self.status,
            "reason": self.reason,
            "error": {"zh": self.zh, "en": self.en},
            **self.detail,
        }
