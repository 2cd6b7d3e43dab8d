from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("webhooks/", views.EndpointListView.as_view(), name="endpoints"),
    path("webhooks/<int:pk>/", views.EndpointDetailView.as_view(), name="endpoint"),
    path("webhooks/<int:pk>/deliveries/", views.DeliveryLogView.as_view(), name="delivery_log"),
    path("webhooks/<int:pk>/rotate-secret/", views.rotate_secret, name="rotate_secret"),
    path("webhooks/<int:pk>/test/", views.send_test_event, name="send_test"),
    path("webhooks/<int:pk>/delete/", views.delete_endpoint, name="delete"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/redeliver/",
        views.redeliver_failed,
        name="redeliver",
    ),
]
