"""Error reports (the emails to ADMINS, Sentry-like handlers) never carry what people wrote.

Django's own filter hides only what a view marked as sensitive. Here almost everything people
send is sensitive (rule wording, notes, comments), so every POST value and every local variable
is hidden whenever the filter is active (DEBUG off).
"""

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class PrivateExceptionReporterFilter(SafeExceptionReporterFilter):
    def get_post_parameters(self, request: HttpRequest | None):
        if request is None:
            return {}
        if not self.is_active(request):
            return super().get_post_parameters(request)
        return self._cleanse_multivaluedict(request.POST, "__ALL__")

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame):
        if not self.is_active(request):
            return super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
