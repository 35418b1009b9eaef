"""What every app's services raise when they refuse a request, and the check of a short text."""


class ServiceError(Exception):
    """A request a service refused, changing nothing; `message` says why, in the person's words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def fitting_text[E: ServiceError](
    text: str, limit: int, error: type[E], *, empty: str, too_long: str
) -> str:
    """`text` without the white space around it; refused with `error` when nothing is left
    (`empty`) or more than `limit` characters are (`too_long`, told the `%(limit)d`)."""
    text = text.strip()
    if not text:
        raise error(empty)
    if len(text) > limit:
        raise error(too_long % {"limit": limit})
    return text
