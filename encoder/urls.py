"""URL routes of the encoder app (under /api/)."""
from django.urls import path

from encoder import apis

urlpatterns = [
    path("similarity/", apis.SimilarityApi.as_view(), name="api-similarity"),
    path("similarity/jobs/<int:pk>/", apis.SimilarityJobApi.as_view(),
         name="api-similarity-job"),
    path("stickers/<str:sticker_id>/similar/", apis.MostSimilarApi.as_view(),
         name="api-sticker-similar"),
    path("encoders/train/", apis.EncoderTrainApi.as_view(), name="api-encoder-train"),
    path("encoders/<int:pk>/", apis.EncoderVersionApi.as_view(), name="api-encoder-version"),
    path("campaigns/<str:name>/iteration2-encoder/", apis.CampaignEncoderActivateApi.as_view(),
         name="api-campaign-encoder-activate"),
]
