# audio_service: sound-alike search (librosa, a Keras CNN on TensorFlow CPU, FAISS). requirements/audio.txt.
#   docker build -f deploy/docker/audio_service.Dockerfile -t musicrec/audio-service .
ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -q --upgrade "pip>=24" "setuptools>=70" wheel
WORKDIR /src
COPY requirements/api.txt requirements/audio.txt requirements/constraints.txt requirements/
RUN /opt/venv/bin/pip install -q -r requirements/audio.txt -c requirements/constraints.txt \
    && /opt/venv/bin/pip install -q --no-deps -c requirements/constraints.txt tinysoundfont
COPY services/common/ services/common/
COPY services/audio_service/ services/audio_service/
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation ./services/common ./services/audio_service

# ---- runtime (soundfile, faiss and TensorFlow wheels carry their own native libraries)
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 OPENBLAS_NUM_THREADS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 NUMBA_CACHE_DIR=/tmp/numba MPLCONFIGDIR=/tmp/matplotlib \
    APP_MODE=production HOST=0.0.0.0 AUDIO_PORT=8002 VAR_DIR=/var/lib/musicrec DATA_DIR=/app/data
RUN groupadd --system --gid 10001 musicrec \
    && useradd --system --uid 10001 --gid musicrec --create-home --home-dir /home/musicrec musicrec \
    && mkdir -p /var/lib/musicrec/audio /app/data \
    && chown -R musicrec:musicrec /var/lib/musicrec
COPY --from=builder /opt/venv /opt/venv
# The shipped version model ("possible versions"; trained once, see its README).
COPY data/audio/version_model/ /app/data/audio/version_model/
WORKDIR /app
USER musicrec:musicrec
EXPOSE 8002
# TensorFlow takes a while to import: a generous start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('AUDIO_PORT', '8002'), timeout=4)"]
CMD ["python", "-m", "audio_service", "serve"]
