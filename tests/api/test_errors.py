"""One error type and one handler: InputError (HackSoft's ApplicationError) becomes a 400
naming the field wherever it is raised; a programming error is never caught as a ValueError
and stays a 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from annotation.errors import ApplicationError, ConflictError, InputError
from annotation.models import Annotation
from core import errors as core_errors
from encoder.spec import EncoderError
from pairbuilder.errors import PairBuildError


def test_input_error_is_the_one_type_and_not_a_value_error():
    # given / when / then
    assert not issubclass(InputError, ValueError)
    assert PairBuildError is InputError and ApplicationError is InputError
    err = InputError("seed", "must be at least 0")
    assert err.message == str(err) == "seed: must be at least 0"
    assert ApplicationError is core_errors.ApplicationError


def test_the_domain_errors_share_the_one_base_and_none_is_a_value_error():
    from encoder.gse.data import GseDataError

    for kind in (EncoderError, GseDataError, ConflictError):
        assert issubclass(kind, ApplicationError) and not issubclass(kind, ValueError)
    # raised with one sentence, the subject is the field
    err = EncoderError("GSE_MODEL is empty: set an OpenCLIP model name")
    assert (err.name, err.message) == ("encoder", "GSE_MODEL is empty: set an OpenCLIP model name")
    assert GseDataError("pairs_val.csv: empty").name == "data"


def test_the_base_needs_no_django():
    # given a fresh interpreter, when the pure cores' error modules are imported
    code = ("import sys, core.errors, encoder.spec; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2]).stdout
    # then Django is not among the modules loaded
    assert out.strip() == "[]"


class _Raises(APIView):
    permission_classes: list = []
    authentication_classes: list = []
    exc: Exception = RuntimeError()

    def get(self, request):
        raise self.exc


def test_the_handler_answers_an_input_error_with_a_400_naming_the_field():
    # given a view whose service refuses an input
    view = _Raises.as_view(exc=InputError("ratios", "need three numbers"))
    # when it is called
    resp = view(APIRequestFactory().get("/x"))
    # then 400, the message and the field
    assert resp.status_code == 400
    assert resp.data == {"detail": "ratios: need three numbers", "field": "ratios"}


def test_the_handler_answers_a_conflict_with_409_and_a_missing_row_with_404():
    conflict = _Raises.as_view(exc=ConflictError("task 7", "you do not hold this task"))(
        APIRequestFactory().get("/x"))
    assert conflict.status_code == 409 and conflict.data["field"] == "task 7"
    missing = _Raises.as_view(exc=Annotation.DoesNotExist("no answer 3"))(
        APIRequestFactory().get("/x"))
    assert missing.status_code == 404 and missing.data == {"detail": "no answer 3"}


@pytest.mark.parametrize("bug", [KeyError("k"), TypeError("t"), ZeroDivisionError()])
def test_the_handler_lets_any_other_error_through(bug):
    with pytest.raises(type(bug)):
        _Raises.as_view(exc=bug)(APIRequestFactory().get("/x"))


def test_a_user_error_in_a_service_is_the_4xx_naming_the_field(world):
    # given a leased task, when the answer selects a sticker that is not a candidate
    task = world.annotator1.post(f"/api/campaigns/{world.name}/tasks/next/").json()
    resp = world.annotator1.post(f"/api/tasks/{task['id']}/submit/", {"selected": ["nope"]},
                                 format="json")
    # then the service's ConflictError, answered by the one handler: 409 naming the field
    assert resp.status_code == 409
    assert resp.json()["field"] == "selected" and "nope" in resp.json()["detail"]
    # and an unknown campaign (Campaign.DoesNotExist in the service) is a 404
    assert world.annotator1.post("/api/campaigns/none-such/tasks/next/").status_code == 404


def test_an_encoder_error_in_a_service_is_a_400_naming_the_encoder(world, monkeypatch):
    # given a training start that cannot load the base model
    from encoder import apis

    def refuse(**kwargs):
        raise EncoderError("GSE_MODEL 'nope' is not an OpenCLIP model name")

    monkeypatch.setattr(apis, "gse_train_start", refuse)
    monkeypatch.setattr(apis, "snapshot_latest", lambda campaign: object())
    # when an admin starts training
    resp = world.admin.post("/api/encoders/train/", {"snapshot": "latest"}, format="json")
    # then 400 naming the encoder, through the handler
    assert resp.status_code == 400, resp.content
    assert resp.json() == {"detail": "GSE_MODEL 'nope' is not an OpenCLIP model name",
                           "field": "encoder"}


def test_the_handler_lets_a_programming_error_through():
    # given a view with a bug
    view = _Raises.as_view(exc=ValueError("invalid literal for int()"))
    # when it is called, then the error is not answered as bad input (Django makes it a 500)
    with pytest.raises(ValueError):
        view(APIRequestFactory().get("/x"))


def test_a_bug_behind_most_similar_is_a_500_not_k_must_be_an_integer(world, monkeypatch):
    # given the service fails with a ValueError (a bug, not the user's k)
    from encoder import apis

    monkeypatch.setattr(apis, "_model", lambda value: (_ for _ in ()).throw(
        ValueError("bug")))
    world.annotator1.raise_request_exception = False
    # when an annotator asks with a valid k
    resp = world.annotator1.get(f"/api/stickers/{world.fx.stickers[0].sticker_id}/similar/?k=5")
    # then a 500, not a 400 that blames k
    assert resp.status_code == 500
