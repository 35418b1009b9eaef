from django.apps import AppConfig


class IntimacyConfig(AppConfig):
    """The project package as an app, so that its system checks run with every command."""

    name = "intimacy"
    label = "intimacy"

    def ready(self) -> None:
        from intimacy import checks  # noqa: F401
