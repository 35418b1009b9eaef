from django.urls import path

from checkins import views

app_name = "checkins"

urlpatterns = [
    path("", views.checkin_list, name="list"),
    path("start/", views.start, name="start"),
    path("invited/<int:invitation_id>/start/", views.start_exercise, name="start_exercise"),
    path("<int:checkin_id>/", views.checkin, name="checkin"),
    path("<int:checkin_id>/poll/", views.poll, name="poll"),
    path("<int:checkin_id>/seal/", views.seal, name="seal"),
    path("<int:checkin_id>/propose/", views.propose, name="propose"),
    path("<int:checkin_id>/reopen/", views.reopen, name="reopen"),
    path("<int:checkin_id>/let-go/", views.let_go, name="let_go"),
    path("<int:checkin_id>/delete-answer/", views.delete_answer, name="delete_answer"),
    path("<int:checkin_id>/reply/", views.reply, name="reply"),
    path("<int:checkin_id>/share/", views.share, name="share"),
    path("archived/<int:agreement_id>/", views.archived, name="archived"),
    path("therapist/<int:agreement_id>/", views.therapist_list, name="therapist_list"),
    path(
        "therapist/<int:agreement_id>/<int:checkin_id>/",
        views.therapist_checkin,
        name="therapist_checkin",
    ),
]
