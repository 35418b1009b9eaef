from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("invite/", views.invite, name="invite"),
    path("invite/cancel/", views.cancel_invitation, name="cancel_invitation"),
    path("invite/email/", views.email_invitation, name="email_invitation"),
    path("introduction/dismiss/", views.dismiss_introduction, name="dismiss_introduction"),
    path("invitation/<str:token>/", views.invitation, name="invitation"),
    path("partnership/end/", views.end_partnership, name="end_partnership"),
]
