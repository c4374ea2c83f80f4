# The botify service: gunicorn with gevent workers (settings in botify/service/gunicorn_conf.py).
#   docker build -t botify .
#   docker run -e BOTIFY_REDIS_URL=redis://redis:6379/0 -p 5001:5001 botify
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when the pins change.
# torch from the CPU index (the default wheel pulls CUDA libraries the service never uses).
COPY requirements.txt ./
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
    && pip install -r requirements.txt

COPY pyproject.toml README.md config.json ./
COPY botify ./botify
COPY sim ./sim
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 botify \
    && mkdir -p /app/log /app/data \
    && chown botify:botify /app/log

USER botify

ENV BOTIFY_BIND=0.0.0.0:5001 \
    BOTIFY_WORKERS=2 \
    BOTIFY_DATA_LOG_FILE=/app/log/data.jsonl

EXPOSE 5001

HEALTHCHECK --interval=10s --timeout=2s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:5001/health', timeout=1).status != 200)"

ENTRYPOINT ["gunicorn", "-c", "python:botify.service.gunicorn_conf", "botify.service.app:create_app()"]
