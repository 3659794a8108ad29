"""render.yaml is the Render Blueprint ceol is deployed with: pin what ceol relies on."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text(encoding="utf-8"))


def service(blueprint: dict, name: str) -> dict:
    matches = [s for s in blueprint["services"] if s["name"] == name]
    assert len(matches) == 1, f"exactly one service named {name!r}"
    return matches[0]


def env_vars(blueprint: dict, entity: dict) -> dict[str, dict]:
    """Key -> definition, with the vars of every ``fromGroup`` merged in."""
    groups = {g["name"]: g for g in blueprint.get("envVarGroups", [])}
    result: dict[str, dict] = {}
    for entry in entity.get("envVars", []):
        if "fromGroup" in entry:
            for var in groups[entry["fromGroup"]]["envVars"]:
                result[var["key"]] = var
        else:
            result[entry["key"]] = entry
    return result


def test_top_level_keys_are_blueprint_keys(blueprint):
    assert set(blueprint) <= {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews", "version"}


def test_web_service_runs_gunicorn_with_static_files_and_migrations(blueprint):
    web = service(blueprint, "ceol")
    assert web["type"] == "web"
    assert web["runtime"] == "python"
    assert web["healthCheckPath"] == "/healthz"
    build = [shlex.split(step) for step in web["buildCommand"].split("&&")]
    assert ["pip", "install", "-r", "requirements.txt"] in build
    assert ["python", "manage.py", "collectstatic", "--noinput"] in build
    # The free plan has no preDeployCommand: migrations run in the build.
    assert ["python", "manage.py", "migrate", "--noinput"] in build
    assert "preDeployCommand" not in web or web.get("plan") != "free"
    start = shlex.split(web["startCommand"])
    assert start[:2] == ["gunicorn", "ceol.wsgi:application"]
    config = start[start.index("--config") + 1]
    assert (ROOT / config).is_file()


def test_gunicorn_config_binds_render_port_with_an_access_log(monkeypatch):
    monkeypatch.setenv("PORT", "10000")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    namespace: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(encoding="utf-8"), namespace)  # noqa: S102 (our own file)
    assert namespace["bind"] == "0.0.0.0:10000"
    assert namespace["workers"] == 2
    assert namespace["accesslog"] == "-"
    assert "%(t)s" in namespace["access_log_format"]  # each request line carries its time


def test_whitenoise_serves_the_static_files():
    from django.conf import settings

    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE
    assert "whitenoise" in (ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_cron_job_runs_the_sweep_every_quarter_hour_at_minute_59(blueprint):
    cron = service(blueprint, "ceol-active-sessions")
    assert cron["type"] == "cron"
    assert cron["runtime"] == "python"
    assert cron["schedule"] == "14,29,44,59 * * * *"
    assert shlex.split(cron["startCommand"]) == ["python", "manage.py", "check_active_sessions"]
    assert "pip install -r requirements.txt" in cron["buildCommand"]
    assert cron.get("plan") != "free"  # cron jobs have no free plan


def test_database_is_wired_through_from_database(blueprint):
    databases = {d["name"]: d for d in blueprint["databases"]}
    for name in ("ceol", "ceol-active-sessions"):
        variables = env_vars(blueprint, service(blueprint, name))
        source = variables["DATABASE_URL"]["fromDatabase"]
        assert source["property"] == "connectionString"
        assert source["name"] in databases


def test_all_resources_share_one_region(blueprint):
    regions = {s.get("region", "oregon") for s in blueprint["services"]}
    regions |= {d.get("region", "oregon") for d in blueprint["databases"]}
    assert len(regions) == 1


def test_secrets_are_generated_or_prompted_never_committed(blueprint):
    web = env_vars(blueprint, service(blueprint, "ceol"))
    cron = env_vars(blueprint, service(blueprint, "ceol-active-sessions"))
    for variables in (web, cron):
        assert variables["SECRET_KEY"].get("generateValue") is True
        assert variables["DEBUG"]["value"] in {"0", "false", "False"}
    prompted = (
        "CRON_SECRET",
        "EMAIL_HOST",
        "EMAIL_PORT",
        "EMAIL_HOST_USER",
        "EMAIL_HOST_PASSWORD",
        "DEFAULT_FROM_EMAIL",
    )
    for key in prompted:
        assert web[key].get("sync") is False, key
        assert "value" not in web[key], key
    assert web["ALLOWED_HOSTS"]["value"]


def test_env_groups_hold_only_plain_or_generated_values(blueprint):
    """The shared group holds plain and generated values; database references and prompts
    sit on the services that need them, where Render's reference documents them."""
    for group in blueprint.get("envVarGroups", []):
        for var in group["envVars"]:
            assert set(var) <= {"key", "value", "generateValue"}, var
