# riskstream application image: one image, the role is the command (worker, learner, simulate...).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RISKSTREAM_DATA_DIR=/var/lib/riskstream
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY scorers ./scorers
COPY simulator ./simulator
COPY learning ./learning
COPY streams ./streams
COPY workbench ./workbench
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 riskstream \
    && mkdir -p /var/lib/riskstream && chown riskstream /var/lib/riskstream
USER riskstream
# /metrics of every role (set RISKSTREAM_METRICS_PORT to this, as docker-compose.yml does),
# and the officer workbench (riskstream workbench, RISKSTREAM_WORKBENCH_PORT)
EXPOSE 9100 8080
ENTRYPOINT ["riskstream"]
CMD ["worker"]
