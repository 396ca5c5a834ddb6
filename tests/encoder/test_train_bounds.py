"""Bounds on a GSE run's epochs and batch size: in the core config and in the API."""

from __future__ import annotations

import pytest

from encoder.gse.config import BATCH_SIZE_MAX, EPOCHS_MAX, TrainConfig


@pytest.mark.parametrize("field,value", [("epochs", EPOCHS_MAX + 1), ("epochs", 0),
                                         ("batch_size", BATCH_SIZE_MAX + 1)])
def test_config_refuses_out_of_bounds(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.django_db
@pytest.mark.parametrize("field,value", [("epochs", EPOCHS_MAX + 1),
                                         ("batch_size", BATCH_SIZE_MAX + 1)])
def test_api_refuses_out_of_bounds_before_queueing(field, value, admin_client):
    from encoder.models import EncoderVersion

    # when: an admin asks for too many epochs or too large a batch
    r = admin_client.post("/api/encoders/train/", {field: value}, content_type="application/json")
    # then: 400 naming the field, and nothing registered or queued
    assert r.status_code == 400
    assert field in r.content.decode()
    assert not EncoderVersion.objects.exists()
