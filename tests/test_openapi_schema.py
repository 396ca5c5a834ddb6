"""The OpenAPI schema of config/urls.py: generated with no drf-spectacular warning or error,
valid OpenAPI 3, and describing the endpoints that clients (the annotator page, scripts) call.

A warning means drf-spectacular had to guess a request, response or parameter, so the schema
is wrong for that endpoint; ``manage.py spectacular --fail-on-warn`` is the same check by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import path
from drf_spectacular.drainage import reset_generator_stats
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class _UndocumentedApi(APIView):
    """No serializer_class and no extend_schema: drf-spectacular cannot tell what it returns."""

    def get(self, request: Request) -> Response:
        return Response({})


# The URLconf of the negative control below (``--urlconf tests.test_openapi_schema``).
urlpatterns = [path("api/undocumented/", _UndocumentedApi.as_view())]


@pytest.fixture(autouse=True)
def _fresh_generator_stats():
    """drf-spectacular counts warnings in a process-wide cache; start and leave it empty."""
    reset_generator_stats()
    yield
    reset_generator_stats()


def _generate(out: Path, *urlconf: str) -> dict:
    """The schema as ``manage.py spectacular --fail-on-warn --validate`` writes it."""
    call_command("spectacular", "--fail-on-warn", "--validate", "--format", "openapi-json",
                 "--file", str(out), *urlconf)
    return json.loads(out.read_text())


@pytest.fixture
def schema(tmp_path, capsys) -> dict:
    try:
        return _generate(tmp_path / "schema.json")
    except CommandError as exc:  # drf-spectacular printed each warning on stderr
        pytest.fail(f"{exc}:\n{capsys.readouterr().err}")


def _parameters(operation: dict) -> dict[tuple[str, str], dict]:
    return {(p["in"], p["name"]): p["schema"] for p in operation.get("parameters", [])}


def test_schema_generates_without_warnings_and_is_valid(schema):
    # given the project's URLconf (the fixture generated its schema, failing on any warning)
    # when / then
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Sticker similarity platform API"


def test_schema_describes_the_annotation_endpoints(schema):
    # given
    paths = schema["paths"]
    # when
    task_next = paths["/api/campaigns/{name}/tasks/next/"]
    submit = paths["/api/tasks/{task_id}/submit/"]["post"]
    # then
    assert set(task_next.keys()) == {"post"}  # leasing changes state: never a GET
    assert _parameters(task_next["post"])[("path", "name")] == {"type": "string"}
    assert ("query", "exclude") in _parameters(task_next["post"])
    assert _parameters(submit)[("path", "task_id")] == {"type": "integer"}
    assert "application/json" in submit["requestBody"]["content"]
    assert {"200", "201", "409"} <= submit["responses"].keys()


def test_schema_describes_the_similarity_and_pair_builder_endpoints(schema):
    # given
    paths = schema["paths"]
    # when
    similarity = paths["/api/similarity/"]["post"]
    pairs = paths["/api/pair-builds/{build_id}/pairs/"]["get"]
    # then
    content = similarity["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= content.keys()
    assert "200" in similarity["responses"]
    assert _parameters(pairs)[("path", "build_id")] == {"type": "integer"}
    assert {("query", "offset"), ("query", "limit"), ("query", "label"),
            ("query", "unreviewed")} <= _parameters(pairs).keys()


def test_schema_leaves_out_the_html_pages(schema):
    # given the pages routed by frontend/urls.py outside /api/
    # when
    paths = schema["paths"].keys()
    # then
    assert all(p.startswith("/api/") for p in paths)


def test_generation_fails_on_an_undocumented_view(tmp_path, capsys):
    # given a URLconf with one APIView that drf-spectacular cannot resolve
    # when / then: the same check as the fixture fails, naming the view
    with pytest.raises(CommandError, match="warnings"):
        _generate(tmp_path / "schema.json", "--urlconf", __name__)
    assert "_UndocumentedApi" in capsys.readouterr().err
