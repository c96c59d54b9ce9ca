# syntax=docker/dockerfile:1
# The one GameMetrics image: every service runs it with its own command (apps/core/services.py).
# Built by the Pulumi program (infra/registry.py), tagged with the hash of its inputs
# (infra/image_source.py). Only the apps and their pinned dependencies go in: no [infra]
# (Pulumi), no [local] (embedded servers), no [dev] (test tools), no compilers.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CONSTRAINT=/src/constraints.txt
WORKDIR /src
RUN python -m venv /opt/gamemetrics
COPY constraints.txt pyproject.toml README.md ./
COPY apps ./apps
# A regular (not editable) install of the base distribution, then the packaging tools out.
RUN /opt/gamemetrics/bin/pip install . \
 && /opt/gamemetrics/bin/pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE} AS runtime
# The base image's own packaging tools go too: nothing installs anything at run time.
RUN python -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel \
 && groupadd --system --gid 10001 gamemetrics \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin gamemetrics
COPY --from=build /opt/gamemetrics /opt/gamemetrics
ENV PATH=/opt/gamemetrics/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /tmp
LABEL org.opencontainers.image.title="gamemetrics" \
      org.opencontainers.image.description="GameMetrics services (ingest, processor, analytics)"
CMD ["gamemetrics", "--help"]
