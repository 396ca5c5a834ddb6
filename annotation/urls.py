"""URL routes of the annotation app (under /api/)."""
from django.urls import path

from annotation import apis

urlpatterns = [
    path("ping/", apis.PingApi.as_view(), name="api-ping"),
    path("campaigns/", apis.CampaignListApi.as_view(), name="api-campaigns"),
    path("campaigns/<str:name>/tasks/next/", apis.TaskNextApi.as_view(), name="api-task-next"),
    path("campaigns/<str:name>/progress/", apis.ProgressApi.as_view(), name="api-progress"),
    path("campaigns/<str:name>/stats/", apis.CampaignStatsApi.as_view(), name="api-campaign-stats"),
    path("campaigns/<str:name>/annotations.jsonl", apis.CampaignExportApi.as_view(),
         name="api-campaign-export"),
    path("tasks/<int:task_id>/submit/", apis.TaskSubmitApi.as_view(), name="api-task-submit"),
    path("tasks/<int:task_id>/skip/", apis.TaskSkipApi.as_view(), name="api-task-skip"),
    path("annotations/", apis.MyAnnotationListApi.as_view(), name="api-annotations-mine"),
    path("annotations/<int:annotation_id>/", apis.AnnotationDetailApi.as_view(),
         name="api-annotation-detail"),
]
