"""The project's own rows, apart from every app's: the counters of intimacy/ratelimit.py."""

from django.db import models


class RateLimit(models.Model):
    """How many times something limited (invitation emails from one account, say) was done in
    the window now open for it. The key names the thing, never a person's address in clear."""

    key = models.CharField(max_length=128, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key}: {self.count} until {self.window_ends_at:%Y-%m-%d %H:%M}"
