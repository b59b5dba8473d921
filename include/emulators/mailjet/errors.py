"""Mailjet's error answer: ``{"ErrorInfo": "", "ErrorMessage": "...", "StatusCode": n}``."""

from __future__ import annotations

from include.emulators.kit.http import Reply, json_reply


class ApiError(Exception):
    """Raised anywhere in a handler; the app turns it into the reply."""

    def __init__(self, status: int, message: str, info: str = "", headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.info = info
        self.headers = headers

    def reply(self) -> Reply:
        return json_reply(
            self.status,
            {"ErrorInfo": self.info, "ErrorMessage": self.message, "StatusCode": self.status},
            headers=self.headers,
        )
