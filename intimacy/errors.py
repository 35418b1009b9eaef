"""What every app's services raise when they refuse a request."""


class ServiceError(Exception):
    """A request a service refused, changing nothing; `message` says why, in the person's words."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
