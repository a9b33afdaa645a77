# cf_service: collaborative filtering (scikit-surprise vote, implicit ALS). requirements/cf.txt (includes api.txt).
#   docker build -f deploy/docker/cf_service.Dockerfile -t musicrec/cf-service .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: compilers stay here (implicit may build from source), only the venv moves on
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN apt-get update -q && apt-get install -y -q --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
WORKDIR /src
COPY requirements/api.txt requirements/cf.txt requirements/constraints.txt requirements/
RUN /opt/venv/bin/pip install -q -r requirements/cf.txt -c requirements/constraints.txt
COPY services/common/ services/common/
COPY services/cf_service/ services/cf_service/
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation ./services/common ./services/cf_service

# ---- runtime: OpenMP for implicit's compiled solvers, the venv, an unprivileged user
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update -q && apt-get install -y -q --no-install-recommends libgomp1 libstdc++6 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 \
    MPLCONFIGDIR=/tmp/matplotlib APP_MODE=production HOST=0.0.0.0 CF_PORT=8001 \
    VAR_DIR=/var/lib/musicrec DATA_DIR=/app/data
RUN groupadd --system --gid 10001 musicrec \
    && useradd --system --uid 10001 --gid musicrec --create-home --home-dir /home/musicrec musicrec \
    && mkdir -p /var/lib/musicrec/cf_models /app/data \
    && chown -R musicrec:musicrec /var/lib/musicrec
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
USER musicrec:musicrec
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CF_PORT', '8001'), timeout=4)"]
CMD ["python", "-m", "cf_service", "serve"]
