"""URL routes of the pairbuilder app (under /api/, admin only)."""
from django.urls import path

from pairbuilder import apis

urlpatterns = [
    path("campaigns/<str:name>/pair-builds/", apis.PairBuildListApi.as_view(),
         name="api-pair-builds"),
    path("pair-builds/<int:build_id>/", apis.PairBuildDetailApi.as_view(),
         name="api-pair-build"),
    path("pair-builds/<int:build_id>/resume/", apis.PairBuildResumeApi.as_view(),
         name="api-pair-build-resume"),
    path("pair-builds/<int:build_id>/pairs/", apis.PairListApi.as_view(), name="api-pairs"),
    path("pairs/<int:pair_id>/review/", apis.PairReviewApi.as_view(), name="api-pair-review"),
    path("campaigns/<str:name>/snapshots/", apis.SnapshotListApi.as_view(),
         name="api-snapshots"),
    path("snapshots/<int:number>/download/", apis.SnapshotDownloadApi.as_view(),
         name="api-snapshot-download"),
]
