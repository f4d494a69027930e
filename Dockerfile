# The exporter image: a venv on a Python base, a non-root user, the demo config as the default
# config. Mount your own config over /etc/budget-exporter/config.yml (read-only) to use real data.
#   docker build -t budget-exporter .
#   docker run -p 10098:10098 budget-exporter
#
# BASE is any Debian-like image with python3 and its venv module (the official slim image by
# default). Without a registry, put the wheels of every dependency (and setuptools) in wheels/
# and build with --build-arg PIP_NO_INDEX=1: scripts/test-image builds the image that way.
ARG BASE=python:3.12.8-slim-bookworm

FROM ${BASE} AS build
# A venv, not the base's own site-packages: Debian's python3 refuses pip installs there (PEP 668),
# and the same path works whatever the base.
RUN python3 -m venv /opt/budget-exporter
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY exporter ./exporter
COPY wheels ./wheels
ARG PIP_NO_INDEX=
# Dependencies at the versions in constraints.txt (tested, and audited by scripts/audit).
RUN PIP_NO_INDEX="${PIP_NO_INDEX}" /opt/budget-exporter/bin/pip install --no-cache-dir \
        --find-links ./wheels --constraint constraints.txt . \
    && /opt/budget-exporter/bin/pip uninstall --yes --quiet pip

FROM ${BASE}
ENV PATH=/opt/budget-exporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10098 --user-group --create-home \
        --home-dir /var/lib/budget-exporter budget-exporter
COPY --from=build /opt/budget-exporter /opt/budget-exporter
COPY exporter/budget_exporter/demo/demo.yml /etc/budget-exporter/config.yml

USER 10098:10098
WORKDIR /var/lib/budget-exporter
# The last good cost data and exposition, served again after a restart.
VOLUME ["/var/lib/budget-exporter"]
EXPOSE 10098
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/budget-exporter/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10098/-/healthy', timeout=4)"]
ENTRYPOINT ["budget-exporter"]
CMD ["serve", "--config.file=/etc/budget-exporter/config.yml", "--state.dir=/var/lib/budget-exporter", "--web.listen-address=:10098"]
