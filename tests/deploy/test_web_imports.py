"""The web processes do not import torch: ``python -c "import config.wsgi"`` with the web
settings (the production settings, DEBUG off) loads every view, as gunicorn's workers do at
start, and leaves torch, torchvision and OpenCLIP out of ``sys.modules``."""

from __future__ import annotations

import json

from tests.deploy.conftest import production_env, run_python

HEAVY = ("torch", "torchvision", "open_clip")
# What a web process imports besides the views: the services the views call and the Celery
# task modules it sends jobs through (the tasks import their torch-using services lazily).
WEB_SIDE = ("encoder.tasks", "encoder.similarity_services", "encoder.embedding_services",
            "encoder.training_services", "annotation.services.candidate_sets",
            "pairbuilder.tasks")
REPORT = (
    "import json, sys; print(json.dumps({{'heavy': [m for m in {heavy!r} if m in sys.modules],"
    " 'views': [m for m in ('encoder.apis', 'frontend.views.registry', 'annotation.apis')"
    " if m in sys.modules]}}))"
)


def _imported(code: str) -> dict[str, list[str]]:
    run = run_python(code + "; " + REPORT.format(heavy=HEAVY), production_env())
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_importing_the_wsgi_application_leaves_torch_out():
    # given the web settings (DJANGO_SECRET_KEY set, DJANGO_DEBUG unset)
    # when the WSGI module is imported, exactly as gunicorn does it
    out = _imported("import config.wsgi")
    # then every view module is loaded (config.wsgi preloads them) and no torch module is
    assert out["views"] == ["encoder.apis", "frontend.views.registry", "annotation.apis"]
    assert out["heavy"] == []


def test_the_services_and_task_modules_a_web_process_uses_leave_torch_out():
    # when the web process also imports the modules it sends jobs and reads embeddings through
    out = _imported("import config.wsgi, importlib; "
                    f"[importlib.import_module(m) for m in {WEB_SIDE!r}]")
    # then still no torch: the torch-using code is imported inside the worker-side functions
    assert out["heavy"] == []
