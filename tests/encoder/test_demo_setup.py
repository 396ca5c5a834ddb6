"""``manage.py demo_setup`` without pretrained weights: it says so and falls back, visibly."""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from annotation.models import Campaign, CandidateSet, Task
from encoder.models import EncoderVersion

pytestmark = pytest.mark.django_db


class _Report:
    def summary(self) -> str:
        return "stickers: 6 imported"


def test_demo_setup_falls_back_plainly_and_is_safe_to_rerun(
    make_stickers, tiny_openclip, settings, monkeypatch, caplog, tmp_path
):
    # given a library of 6 stickers and a configured model without pretrained weights
    import annotation.services.demo as demo
    from encoder import demo as demo_setup

    monkeypatch.setattr(demo, "demo_library_import", lambda: (make_stickers(6), _Report())[1])
    monkeypatch.setattr(demo_setup, "SHIPPED_MODEL", tmp_path / "no-shipped-model")
    settings.GSE_MODEL = tiny_openclip["config_path"]
    settings.GSE_PRETRAINED = ""
    out, err = io.StringIO(), io.StringIO()
    # when
    with caplog.at_level(logging.INFO):
        call_command("demo_setup", stdout=out, stderr=err)
    # then the log says so in one WARNING line naming the settings, open_clip's chatter is
    # only at DEBUG, and the encoder version and the campaign say it too
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        f"No pretrained weights could be loaded for GSE_MODEL={tiny_openclip['config_path']} "
        "GSE_PRETRAINED=(empty): using a tiny randomly initialised encoder; candidates are "
        "NOT semantically meaningful"
    ]
    assert not [r for r in caplog.records
                if "open_clip" in r.pathname and r.levelno >= logging.INFO]
    campaign = Campaign.objects.get(name="demo")
    assert "NOT semantically meaningful" in campaign.description
    # and a first export, before anyone reviewed a pair, is not empty
    assert campaign.snapshot_include_unreviewed
    version = EncoderVersion.objects.get(version=campaign.encoder_version)
    assert "NOT semantically meaningful" in version.train_config["note"]
    # and users, both iterations and their tasks exist
    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    for name in ("annotator1", "annotator2", "annotator3"):
        assert users.get(username=name).groups.filter(name="annotators").exists()
    assert "annotator1/demo" in out.getvalue()
    assert CandidateSet.objects.filter(campaign=campaign, iteration=1).count() == 6
    # (iteration 2 is ranks 21-40: 6 stickers have none, so no empty sets or tasks are made)
    assert CandidateSet.objects.filter(campaign=campaign, iteration=2).count() == 0
    assert Task.objects.filter(campaign=campaign).count() == 6
    # when run again, nothing is duplicated
    monkeypatch.setattr(demo, "demo_library_import", lambda: _Report())
    call_command("demo_setup", stdout=io.StringIO(), stderr=io.StringIO())
    assert Task.objects.filter(campaign=campaign).count() == 6


def test_demo_setup_prefers_the_shipped_demo_encoder(make_stickers, tiny_openclip, settings,
                                                     monkeypatch, caplog, tmp_path):
    # given a shipped demo encoder (config + weights) and pretrained weights that cannot load
    import shutil

    import annotation.services.demo as demo
    from encoder import demo as demo_setup

    shipped = tmp_path / "models"
    shipped.mkdir()
    shutil.copy(tiny_openclip["config_path"], shipped / "demo_encoder.json")
    shutil.copy(tiny_openclip["checkpoint"], shipped / "demo_encoder.pt")
    monkeypatch.setattr(demo_setup, "SHIPPED_MODEL", shipped)
    monkeypatch.setattr(demo, "demo_library_import", lambda: (make_stickers(4), _Report())[1])
    settings.GSE_MODEL = tiny_openclip["config_path"]
    settings.GSE_PRETRAINED = str(tmp_path / "missing-weights.pt")
    # when
    with caplog.at_level(logging.DEBUG, logger="demo_setup"):
        call_command("demo_setup", stdout=io.StringIO(), stderr=io.StringIO())
    # then one WARNING line names the settings and the shipped encoder, the load error is DEBUG
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert f"GSE_PRETRAINED={tmp_path / 'missing-weights.pt'}: using the small encoder " \
           "shipped in demo/models" in warnings[0]
    assert any("checkpoint file not found" in r.getMessage() for r in caplog.records
               if r.levelno == logging.DEBUG and r.name == "demo_setup")
    # and the campaign runs on the shipped encoder, its note saying so
    campaign = Campaign.objects.get(name="demo")
    version = EncoderVersion.objects.get(version=campaign.encoder_version)
    assert version.model_name == str(shipped / "demo_encoder.json")
    assert "shipped in demo/models" in version.train_config["note"]
    assert CandidateSet.objects.filter(campaign=campaign, iteration=1).count() == 4
