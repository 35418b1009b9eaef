"""Each person's own language: once signed in, the language they chose (User.language) wins over
the browser's wish, for every page they read. Two partners can read the same agreement in two
languages at once. Signed out, or with no language chosen, LocaleMiddleware's choice (the
browser's Accept-Language) stands."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

Handler = Callable[[HttpRequest], HttpResponse]


def chosen_language(user) -> str:
    """The person's own language if they chose one this site speaks, else ""."""
    code = getattr(user, "language", "") if user is not None else ""
    return code if code in dict(settings.LANGUAGES) else ""


def person_language(get_response: Handler) -> Handler:
    """After authentication (it reads request.user) and after LocaleMiddleware (which it
    overrides for a signed-in person who chose a language)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        code = chosen_language(getattr(request, "user", None))
        if code:
            translation.activate(code)
            request.LANGUAGE_CODE = translation.get_language()
        return get_response(request)

    return middleware
