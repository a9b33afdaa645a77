# init: the one-shot preparation (compose `init` / `init-audio` / `retrain`, the Kubernetes Job and CronJob).
# It runs every service's command line (gateway migrate/import, cf_service train/publish, the audio pipeline),
# so it carries requirements/run.txt; the three serving images stay small. See musicrec_init.py.
#   docker build -f deploy/docker/init.Dockerfile -t musicrec/init .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN apt-get update -q && apt-get install -y -q --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
WORKDIR /src
COPY requirements/api.txt requirements/cf.txt requirements/audio.txt requirements/run.txt \
     requirements/constraints.txt requirements/
RUN /opt/venv/bin/pip install -q -r requirements/run.txt -c requirements/constraints.txt \
    && /opt/venv/bin/pip install -q --no-deps -c requirements/constraints.txt tinysoundfont
COPY services/ services/
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation \
    ./services/common ./services/tools ./services/gateway ./services/cf_service ./services/audio_service

# ---- runtime
FROM ${PYTHON_IMAGE} AS runtime
RUN apt-get update -q && apt-get install -y -q --no-install-recommends libgomp1 libstdc++6 \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 NUMBA_CACHE_DIR=/tmp/numba MPLCONFIGDIR=/tmp/matplotlib \
    APP_MODE=production VAR_DIR=/var/lib/musicrec DATA_DIR=/app/data
RUN groupadd --system --gid 10001 musicrec \
    && useradd --system --uid 10001 --gid musicrec --create-home --home-dir /home/musicrec musicrec \
    && mkdir -p /var/lib/musicrec/cf_models /var/lib/musicrec/audio \
    && chown -R musicrec:musicrec /var/lib/musicrec
COPY --from=builder /opt/venv /opt/venv
COPY data/ /app/data/
COPY deploy/docker/musicrec_init.py /app/musicrec_init.py
WORKDIR /app
USER musicrec:musicrec
# A one-shot job: nothing to probe.
HEALTHCHECK NONE
CMD ["python", "/app/musicrec_init.py", "all"]
