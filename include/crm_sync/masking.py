"""Masking of e-mail addresses and secrets for logs and error messages.

Invariant 6 of the design: secrets, session ids and full e-mail addresses never reach a log.
Every message that may carry one goes through ``mask_email``/``mask_secret``; ``MaskingFilter``
is a last line of defence on the project's loggers.
"""

from __future__ import annotations

import logging
import re

_EMAIL_RE = re.compile(r"([A-Za-z0-9._%+\-]{1,64})@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


def mask_email(address: str | None) -> str:
    """``jane.doe@example.com`` -> ``j***@e***.com``; keeps enough to tell rows apart in a log."""
    if not address:
        return "<none>"
    local, sep, domain = address.partition("@")
    if not sep:
        return (address[:1] + "***") if address else "<none>"
    host, dot, tld = domain.rpartition(".")
    masked_domain = f"{host[:1]}***.{tld}" if dot else f"{domain[:1]}***"
    return f"{local[:1]}***@{masked_domain}"


def mask_secret(value: str | None) -> str:
    """Never shows more than the last two characters of a secret or session id."""
    if not value:
        return "<none>"
    return "***" + value[-2:] if len(value) > 8 else "***"


def mask_text(text: str) -> str:
    """Mask every e-mail address found in free text (exception messages, SOAP faults)."""
    return _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Rewrites log records so that no full e-mail address is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
