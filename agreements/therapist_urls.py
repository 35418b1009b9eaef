from django.urls import path

from agreements.views import therapist as views

app_name = "therapist"

urlpatterns = [
    path("", views.home, name="home"),
    path("couples/<int:agreement_id>/", views.couple, name="couple"),
    path("couples/<int:agreement_id>/rules/<int:rule_id>/", views.history, name="history"),
    path("couples/<int:agreement_id>/timeline/", views.timeline, name="timeline"),
    path("couples/<int:agreement_id>/print/", views.print_page, name="print"),
    path("couples/<int:agreement_id>/comments/", views.comment, name="comment"),
    path("couples/<int:agreement_id>/step-away/", views.step_away, name="step_away"),
]
