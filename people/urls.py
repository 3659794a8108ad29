from django.urls import path

from people import views

urlpatterns = [
    path("people/<id:pk>/", views.person_detail, name="person_detail"),
    path("instances/<id:pk>/answer/", views.answer_instance, name="answer_instance"),
    path("instances/<id:pk>/check-in/", views.check_in_instance, name="check_in_instance"),
]
