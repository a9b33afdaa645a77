# gateway: the public JSON API (and the web page when SERVE_FRONTEND is true, as in Kubernetes).
# Serving layer only: requirements/api.txt. No TensorFlow, no surprise, no librosa.
#   docker build -f deploy/docker/gateway.Dockerfile -t musicrec/gateway .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: a virtual environment with the pinned requirements and the two packages
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
WORKDIR /src
COPY requirements/api.txt requirements/constraints.txt requirements/
RUN /opt/venv/bin/pip install -q -r requirements/api.txt -c requirements/constraints.txt
COPY services/common/ services/common/
COPY services/gateway/ services/gateway/
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation ./services/common ./services/gateway

# ---- runtime: the venv, the static frontend, an unprivileged user
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    APP_MODE=production HOST=0.0.0.0 GATEWAY_PORT=8000 \
    VAR_DIR=/var/lib/musicrec DATA_DIR=/app/data FRONTEND_DIR=/app/frontend
# uid/gid 10001 in every image: named volumes and Kubernetes fsGroup then agree on ownership.
RUN groupadd --system --gid 10001 musicrec \
    && useradd --system --uid 10001 --gid musicrec --create-home --home-dir /home/musicrec musicrec \
    && mkdir -p /var/lib/musicrec/audio /app/data \
    && chown -R musicrec:musicrec /var/lib/musicrec
COPY --from=builder /opt/venv /opt/venv
COPY frontend/ /app/frontend/
WORKDIR /app
USER musicrec:musicrec
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('GATEWAY_PORT', '8000'), timeout=4)"]
CMD ["python", "-m", "gateway", "serve"]
