# The exporter image: slim Python, a non-root user, the demo config as the default config.
# Mount your own config over /etc/budget-exporter/config.yml (read-only) to use real data.
#   docker build -t budget-exporter .
#   docker run -p 10098:10098 budget-exporter

FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY exporter ./exporter
# Dependencies at the versions in constraints.txt (tested, and audited by scripts/audit).
RUN pip wheel --no-cache-dir --constraint constraints.txt --wheel-dir /wheels .

FROM python:3.12.8-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --system --uid 10098 --user-group --create-home \
        --home-dir /var/lib/budget-exporter budget-exporter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
COPY exporter/budget_exporter/demo/demo.yml /etc/budget-exporter/config.yml

USER budget-exporter
WORKDIR /var/lib/budget-exporter
# The last good cost data and exposition, served again after a restart.
VOLUME ["/var/lib/budget-exporter"]
EXPOSE 10098
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10098/-/healthy', timeout=4)"]
ENTRYPOINT ["budget-exporter"]
CMD ["serve", "--config.file=/etc/budget-exporter/config.yml", "--state.dir=/var/lib/budget-exporter", "--web.listen-address=:10098"]
