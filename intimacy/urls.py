from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from intimacy import views

# The admin signs in through allauth (rate limits, two-factor), never through its own form.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("agreement/", include("agreements.urls")),
    path("therapist/", include("agreements.therapist_urls")),
    path("checkins/", include("checkins.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCHMARK_FLOOR:
    urlpatterns += [
        path("bench/floor", views.floor, name="bench_floor"),
        path("bench/floor/signed-in", views.floor_signed_in, name="bench_floor_signed_in"),
    ]
