from django.urls import path

from agreements import views

app_name = "agreements"

urlpatterns = [
    path("", views.agreement, name="agreement"),
    path("poll/", views.poll, name="poll"),
    path("timeline/", views.timeline, name="timeline"),
    path("print/", views.print_page, name="print"),
    path("therapist/", views.therapist_access, name="therapist_access"),
    path("rules/new/", views.new_rule, name="new_rule"),
    path("rules/<int:rule_id>/", views.history, name="history"),
    path("rules/<int:rule_id>/card/", views.card, name="card"),
    path("rules/<int:rule_id>/accept/", views.accept, name="accept"),
    path("rules/<int:rule_id>/not-yet/", views.not_yet, name="not_yet"),
    path("rules/<int:rule_id>/decline/", views.decline, name="decline"),
    path("rules/<int:rule_id>/change/", views.change, name="change"),
    path("rules/<int:rule_id>/withdraw/", views.withdraw, name="withdraw"),
    path("rules/<int:rule_id>/archive/", views.archive, name="archive"),
    path("rules/<int:rule_id>/restore/", views.restore, name="restore"),
    path("comments/", views.reply, name="reply"),
    path("archived/<int:agreement_id>/", views.archived, name="archived"),
    path(
        "archived/<int:agreement_id>/timeline/", views.archived_timeline, name="archived_timeline"
    ),
    path("archived/<int:agreement_id>/print/", views.archived_print, name="archived_print"),
]
