from django.urls import path

from agreements import therapist_views as views

app_name = "therapist"

urlpatterns = [
    path("", views.home, name="home"),
]
