from django.urls import path

from agreements.views import therapist as views

app_name = "therapist"

urlpatterns = [
    path("", views.home, name="home"),
    path("links/", views.invite, name="invite"),
    path("links/<int:link_id>/cancel/", views.cancel_link, name="cancel_link"),
    path("links/<int:link_id>/label/", views.label_link, name="label_link"),
    path("couples/<int:agreement_id>/", views.couple, name="couple"),
    path("couples/<int:agreement_id>/rules/<int:rule_id>/", views.history, name="history"),
    path("couples/<int:agreement_id>/timeline/", views.timeline, name="timeline"),
    path("couples/<int:agreement_id>/print/", views.print_page, name="print"),
    path("couples/<int:agreement_id>/comments/", views.comment, name="comment"),
    path("couples/<int:agreement_id>/step-away/", views.step_away, name="step_away"),
    path("couples/<int:agreement_id>/suggestions/", views.suggest_rule, name="suggest_rule"),
    path(
        "couples/<int:agreement_id>/rules/<int:rule_id>/suggest/",
        views.suggest_wording,
        name="suggest_wording",
    ),
    path("couples/<int:agreement_id>/notes/", views.session_notes, name="session_notes"),
    path("couples/<int:agreement_id>/check-ins/", views.invite_checkin, name="invite_checkin"),
]
