# The project's Airflow image: the official Airflow image with this project's pinned lock.
# Used by docker-compose.yaml for every Airflow service and for the platform emulator.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11

COPY --chown=airflow:root requirements.txt /opt/crm-sync/requirements.txt
# Same versions as the lock the tests run on (apache-airflow itself is pinned in it too).
RUN pip install --no-cache-dir -r /opt/crm-sync/requirements.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root sql/ /opt/airflow/sql/
COPY --chown=airflow:root config/ /opt/airflow/config/
COPY --chown=airflow:root scripts/ /opt/airflow/scripts/
# The project as an Airflow provider (its connection types in the UI's connection form), as `make install` does
COPY --chown=airflow:root pyproject.toml /opt/airflow/pyproject.toml
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

ENV PYTHONPATH=/opt/airflow:/opt/airflow/plugins
WORKDIR /opt/airflow
