from django.urls import path

from sessions_app import views

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/<slug:slug>/", views.session_detail, name="session_detail"),
    path("instances/<id:pk>/", views.instance_detail, name="instance_detail"),
]
