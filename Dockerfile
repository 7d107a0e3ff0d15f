# journeyflow on Airflow 3.3: the image every Airflow service of docker-compose.yml runs.
# Exactly the versions of uv.lock, in a virtualenv of their own; the package carries its SQL,
# templates and config, so no source checkout is needed at run time.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
ARG UV_VERSION=0.13.9

FROM ${AIRFLOW_IMAGE} AS build
ARG UV_VERSION
USER airflow
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /tmp/journeyflow
COPY --chown=airflow:root pyproject.toml uv.lock README.md journeyflow.yaml ./
COPY --chown=airflow:root plugins ./plugins
COPY --chown=airflow:root sql ./sql
COPY --chown=airflow:root email_templates ./email_templates
COPY --chown=airflow:root dags ./dags
COPY --chown=airflow:root docker ./docker
RUN UV="python -m uv" sh docker/build.sh . /tmp/dist

FROM ${AIRFLOW_IMAGE}
ARG UV_VERSION
USER root
RUN mkdir -p /opt/journeyflow /opt/airflow/journeyflow /opt/airflow/passwords && \
    chown -R airflow:root /opt/journeyflow /opt/airflow/journeyflow /opt/airflow/passwords
USER airflow
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
COPY --from=build --chown=airflow:root /tmp/dist /opt/journeyflow/dist
COPY --chown=airflow:root docker/install.sh /opt/journeyflow/install.sh
RUN UV="python -m uv" sh /opt/journeyflow/install.sh /opt/journeyflow/dist \
        /opt/journeyflow/venv /usr/local/bin/python && \
    rm -rf /home/airflow/.cache
ENV PATH=/opt/journeyflow/venv/bin:$PATH \
    JOURNEYFLOW_HOME=/opt/airflow/journeyflow
COPY --chown=airflow:root dags/journeyflow_nightly.py /opt/airflow/dags/
COPY --chown=airflow:root plugins/journeyflow_ui.py /opt/airflow/plugins/
