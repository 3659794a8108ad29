from django.urls import path

from people import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("instances/<id:pk>/", views.instance_detail, name="instance_detail"),
    path("people/<id:pk>/", views.person_detail, name="person_detail"),
    path("instances/<id:pk>/answer/", views.answer_instance, name="answer_instance"),
    path("instances/<id:pk>/check-in/", views.check_in_instance, name="check_in_instance"),
    path("instances/<id:pk>/leave/", views.leave_instance, name="leave_instance"),
    path("sessions/<slug:slug>/on/<str:on>/answer/", views.answer_occurrence, name="answer_occurrence"),
    path("resume/", views.resume_action, name="resume_action"),
    path("api/live", api.live, name="api_live"),
    path("api/person/<id:person_id>/active_session", api.person_active_session, name="api_person_active_session"),
]
