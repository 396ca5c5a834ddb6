"""URL routes of the frontend app."""
from django.urls import path

from frontend.views import annotate, campaign, library, registry, review

urlpatterns: list = [
    path("", annotate.home, name="home"),
    path("campaigns/<str:name>/annotate/", annotate.annotate, name="annotate"),
    path("campaigns/<str:name>/", campaign.campaign_detail, name="campaign"),
    path("campaigns/<str:name>/models/train/", registry.campaign_gse_train,
         name="campaign-gse-train"),
    path("campaigns/<str:name>/models/activate/", registry.campaign_gse_activate,
         name="campaign-gse-activate"),
    path("pair-builds/<int:build_id>/review/", review.pair_review, name="pair-review"),
    path("library/", library.library, name="library"),
    path("library/stickers/<int:pk>/", library.sticker, name="library-sticker"),
]
