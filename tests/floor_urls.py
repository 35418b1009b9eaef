"""The project's URLs with the benchmark's floors, as BENCHMARK_FLOOR=true adds them."""

from django.urls import path

from intimacy import views
from intimacy.urls import urlpatterns as project

urlpatterns = [
    *project,
    path("bench/floor", views.floor, name="bench_floor"),
    path("bench/floor/signed-in", views.floor_signed_in, name="bench_floor_signed_in"),
]
