"""Every state change: load, check, change, flush, record the event. Never commit (the request or the job does)."""


class OperationError(Exception):
    """A change refused for a reason the user must read. `field` names the form field it concerns, if any."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
