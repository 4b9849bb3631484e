# riskstream application image: one image, the role is the command (worker, learner, simulate...).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY scorers ./scorers
COPY simulator ./simulator
COPY streams ./streams
RUN pip install --no-cache-dir . && useradd --system --uid 10001 riskstream
USER riskstream
ENTRYPOINT ["riskstream"]
CMD ["worker"]
