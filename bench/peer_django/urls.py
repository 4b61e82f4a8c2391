"""One route: django-ses's SNS event webhook view."""
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django_ses.views import SESEventWebhookView

urlpatterns = [path("ses/event-webhook/", csrf_exempt(SESEventWebhookView.as_view()))]
