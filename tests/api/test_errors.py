"""One error type and one handler: InputError (HackSoft's ApplicationError) becomes a 400
naming the field wherever it is raised; a programming error is never caught as a ValueError
and stays a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from annotation.errors import ApplicationError, InputError
from pairbuilder.errors import PairBuildError


def test_input_error_is_the_one_type_and_not_a_value_error():
    # given / when / then
    assert not issubclass(InputError, ValueError)
    assert PairBuildError is InputError and ApplicationError is InputError
    err = InputError("seed", "must be at least 0")
    assert err.message == str(err) == "seed: must be at least 0"


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
