from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import urls as account_urls
from accounts import views as account_views
from intimacy import views

# The admin signs in through allauth (rate limits, two-factor), never through its own form.
admin.site.login = secure_admin_login(admin.site.login)

# A person's settings (a new name shows on every app's pages), data export and account deletion
# need every app, so their views are the project's (intimacy/views.py); their URLs stay where
# they were, named in the accounts namespace.
accounts_urls = [
    *account_urls.urlpatterns,
    path("settings/", views.settings_page, name="settings"),
    path("settings/export/", views.export_page, name="export"),
    path("settings/export/data.json", views.export_json, name="export_json"),
    path("settings/export/agreement.md", views.export_markdown, name="export_markdown"),
    path("settings/delete/", views.delete_account, name="delete_account"),
    path(
        "agreement/archived/<int:agreement_id>/your-words/",
        views.remove_words,
        name="remove_words",
    ),
]

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("", include((accounts_urls, account_urls.app_name))),
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
