"""Bounds on a GSE run's epochs and batch size: in the core config and in the API."""

from __future__ import annotations

import pytest

from encoder.gse.config import BATCH_SIZE_MAX, EPOCHS_MAX, TrainConfig, TrainConfigError


@pytest.mark.parametrize("field,value", [("epochs", EPOCHS_MAX + 1), ("epochs", 0),
                                         ("batch_size", BATCH_SIZE_MAX + 1)])
def test_config_refuses_out_of_bounds(field, value):
    with pytest.raises(TrainConfigError, match=field):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("field,value", [("epochs", "5"), ("epochs", True), ("epochs", 2.5),
                                         ("batch_size", None), ("lr", "1e-4"),
                                         ("pair_weight", [1])])
def test_config_refuses_wrong_types_by_name_and_not_as_a_value_error(field, value):
    # A campaign's stored parameters are JSON: a string where a number belongs is the user's
    # to fix (named), never a TypeError from a comparison (a 500 on the page).
    with pytest.raises(TrainConfigError, match=field) as caught:
        TrainConfig(**{field: value})
    assert not isinstance(caught.value, ValueError | TypeError)


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
