from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/calendar/renew/", views.renew_calendar_token, name="renew_calendar_token"),
    path("accounts/my-sessions/", views.my_sessions_view, name="my_sessions"),
    path("people/<id:pk>/delete/", views.delete_account_view, name="delete_account"),
]
