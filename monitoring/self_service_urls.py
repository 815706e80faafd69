from django.urls import path

from . import self_service

app_name = "self_service"

urlpatterns = [
    path("calendar/<str:token>.ics", self_service.calendar, name="calendar"),
    path("unsubscribe/<str:token>/", self_service.unsubscribe, name="unsubscribe"),
    path("<str:token>/", self_service.page, name="page"),
    path("<str:token>/contraception/", self_service.confirm_contraception, name="contraception"),
    path("<str:token>/questions/", self_service.questions_done, name="questions"),
    path("<str:token>/language/", self_service.language, name="language"),
]
