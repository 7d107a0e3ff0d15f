"""docker-compose.yml, the Dockerfile and .env.example, checked as files (no Docker engine runs
on our machines): the services DESIGN.md lists, pinned images, healthchecks everywhere, named
volumes, secrets only from .env, and every connection the DAG needs."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

from journeyflow.config import PROJECT_DIR
from journeyflow.connections import NEEDED

COMPOSE = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
DOCKERFILE = (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
AIRFLOW = (
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
    "airflow-triggerer", "airflow-worker",
)  # fmt: skip


def env_example() -> dict[str, str]:
    values = {}
    for line in (PROJECT_DIR / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return values


def test_the_services_of_the_design():
    assert set(SERVICES) == {
        "warehouse", "airflow-db", "redis", *AIRFLOW, "mailpit", "sftp", "shop",
    }  # fmt: skip
    assert SERVICES["shop"]["profiles"] == ["demo"]  # the demo source only on request
    for name in AIRFLOW:
        assert SERVICES[name]["image"] == "journeyflow:0.1.0" and SERVICES[name]["build"] == "."
    assert SERVICES["airflow-worker"]["command"] == "celery worker"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_a_pinned_image(name):
    service = SERVICES[name]
    check = service["healthcheck"]["test"]
    assert check and check[0] in ("CMD", "CMD-SHELL")
    image = service["image"]
    repo, _, tag = image.rpartition(":")
    assert repo and tag and tag != "latest" and re.search(r"\d", tag), image


def test_the_image_is_airflow_3_3_pinned_and_installs_from_the_lock():
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE).group(1)
    assert re.fullmatch(r"apache/airflow:3\.3\.\d+-python3\.11", base)
    assert "docker/build.sh" in DOCKERFILE and "install.sh" in DOCKERFILE
    for source in re.findall(r"^COPY (?:--chown=\S+ )?(\S+)", DOCKERFILE, re.MULTILINE):
        if not source.startswith("--from"):
            assert (PROJECT_DIR / source).exists(), source


def test_airflow_runs_celery_with_redis_and_two_postgres():
    env = COMPOSE["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        and "@redis:" in env["AIRFLOW__CELERY__BROKER_URL"]
    )
    assert "@airflow-db/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Europe/Berlin"
    assert SERVICES["warehouse"]["image"].startswith("postgres:16")
    assert SERVICES["airflow-db"]["image"].startswith("postgres:16")
    for name in AIRFLOW[1:]:
        needs = SERVICES[name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully"
        assert needs["warehouse"]["condition"] == "service_healthy"


def test_every_connection_the_dag_needs_is_passed_and_in_env_example():
    env = COMPOSE["x-airflow-common"]["environment"]
    example = env_example()
    for conn_id in NEEDED:
        key = f"AIRFLOW_CONN_{conn_id.upper()}"
        assert env[key] == f"${{{key}}}", key
        conn = json.loads(example[key])
        assert conn["conn_type"] in ("postgres", "http", "smtp", "sftp", "fs", "generic"), key
    assert json.loads(example["AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE"])["host"].startswith(
        "https://"
    )


def test_no_secret_lives_in_the_repository():
    text = (PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8")
    secrets = re.findall(r"^\s+([A-Z_]*(?:PASSWORD|SECRET|KEY)[A-Z_]*): (.+)$", text, re.MULTILINE)
    for key, value in secrets:
        if not key.endswith("_FILE"):  # a path, not a secret
            assert value.strip().startswith("${"), key
    for key, value in env_example().items():
        if re.search(r"PASSWORD|SECRET|KEY|TOKEN", key):
            assert "change-me" in value, key
        if key.startswith("AIRFLOW_CONN_"):
            conn = json.loads(value)
            assert conn.get("password") in (None, "change-me") or "change-me" in conn["password"]
    assert ".env" in (PROJECT_DIR / ".gitignore").read_text().split()


def test_data_lives_on_named_volumes():
    declared = set(COMPOSE["volumes"])
    used = {
        mount.split(":")[0]
        for service in SERVICES.values()
        for mount in service.get("volumes", [])
        if not mount.startswith((".", "/"))
    } | {
        mount.split(":")[0]
        for mount in COMPOSE["x-airflow-common"]["volumes"]
    }  # fmt: skip
    assert used == declared
    assert "warehouse-data:/var/lib/postgresql/data" in SERVICES["warehouse"]["volumes"]
    assert "airflow-db-data:/var/lib/postgresql/data" in SERVICES["airflow-db"]["volumes"]
