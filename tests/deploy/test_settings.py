"""Production settings: DEBUG off unless asked for, the published secret key refused outside
DEBUG, and ``manage.py check --deploy`` clean with a real key."""

from __future__ import annotations

import pytest

from annotation.apps import secret_key_refusal
from tests.deploy.conftest import production_env, run_manage, run_python

PUBLISHED = "dev-only-insecure-key-change-me"
SETUP = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def test_check_deploy_passes_on_the_production_settings():
    # given the production settings with DEBUG unset and a real key
    env = production_env()
    # when Django's deployment checklist runs, warnings counting as failures
    run = run_manage(["check", "--deploy", "--fail-level", "WARNING"], env)
    # then it finds nothing
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout


def test_debug_is_off_unless_asked_for():
    assert run_python(SETUP, production_env()).stdout.strip() == "False"
    assert run_python(SETUP, production_env(DJANGO_DEBUG="1")).stdout.strip() == "True"


@pytest.mark.parametrize("key", [None, PUBLISHED, "django-insecure-abc", "short-key"])
def test_the_app_refuses_to_start_outside_debug_without_a_real_key(key):
    # given DEBUG off and no key, the published one, Django's template one or a short one
    env = production_env(DJANGO_SECRET_KEY=key)
    # when Django starts
    run = run_python(SETUP, env)
    # then it refuses, naming the variable
    assert run.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY" in run.stderr


def test_the_published_key_is_accepted_with_debug_on():
    run = run_python(SETUP, production_env(DJANGO_DEBUG="1", DJANGO_SECRET_KEY=None))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"


def test_secret_key_refusal_rules():
    assert secret_key_refusal(debug=True, secret_key=PUBLISHED) is None
    assert secret_key_refusal(debug=False, secret_key="") is not None
    assert secret_key_refusal(debug=False, secret_key="a" * 60) is not None  # 1 distinct char
    assert secret_key_refusal(debug=False, secret_key="kq3-Zp8_vX2wLr5tYb9nMc4hJd7sFg1eA0uQi6oTy"
                                                         "Ws8Dk3-Xy7Pq") is None
