"""Paths that carry a secret (an invitation token, a password-reset or email-confirmation key)
never reach a log line: every handler the settings define redacts them, whatever the logger
(the development server's access log, request errors, security warnings)."""

import logging
import re

# The secret part of each such path, up to the next slash, space, quote or query string.
TOKEN_PATHS = re.compile(
    r"(?P<prefix>/invitation/|/accounts/password/reset/key/|/accounts/confirm-email/)"
    r"(?P<secret>(?!done/)[^/\s\"'?#]+)"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return TOKEN_PATHS.sub(lambda m: m.group("prefix") + REDACTED, text)


def holds_token(path: str) -> bool:
    return TOKEN_PATHS.search(path) is not None


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True
