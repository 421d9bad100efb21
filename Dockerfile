# syntax=docker/dockerfile:1
# mailgate: a small, non-root image that runs with a read-only root file system.
#
#   docker build -t mailgate .
#   docker run --read-only --tmpfs /tmp:rw,noexec,nosuid,nodev,size=256m \
#     --cap-drop ALL --security-opt no-new-privileges -p 8443:8443 \
#     -v "$PWD/secrets/cert.pem:/run/secrets/tls_cert:ro" \
#     -v "$PWD/secrets/key.pem:/run/secrets/tls_key:ro" \
#     -e MAILGATE_SERVER_PUBLIC_URL=https://mail.example.org \
#     -e MAILGATE_IMAP_HOST=imap.example.org -e MAILGATE_SMTP_HOST=smtp.example.org mailgate
#
# Configuration is entirely MAILGATE_* variables and mounted files; secrets come in as
# files through the *_FILE variants (e.g. MAILGATE_STORE_REDIS_URL_FILE). Nothing secret
# is baked in. See config/compose.yaml and config/compose.single.yaml.
#
# The base image is pinned by version. For reproducible releases also pin its digest:
#   docker buildx imagetools inspect python:3.11.12-slim-bookworm --format '{{.Manifest.Digest}}'
# and pass --build-arg BASE_IMAGE=python:3.11.12-slim-bookworm@sha256:<that digest>.
#
# BASE_IMAGE may name any Debian-like image with python3 (and its venv module), groupadd
# and useradd: where no registry is reachable, CI builds one from Debian's packages with
# mmdebstrap (docs/operations.md, "The image without a registry").
#
# pip fetches the dependencies at build time. Behind a TLS-inspecting proxy, pass its CA
# bundle as the build secret pip_ca (--secret id=pip_ca,src=FILE): it is mounted for that
# one step only and never stored in a layer.
ARG BASE_IMAGE=python:3.11.12-slim-bookworm

# --- build: install mailgate and its dependencies into a self-contained venv -----------
FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
WORKDIR /src
# The dependencies (and the build backend) in a layer of their own, from pyproject.toml
# alone: a change to mailgate's code rebuilds only the step after it, without the network.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip_ca \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi \
 && /opt/venv/bin/python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(p['project']['dependencies'] + p['build-system']['requires']))" \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt \
 && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash /opt/venv/lib
COPY README.md ./
COPY mailgate ./mailgate
# Byte-code is compiled at build time, with hashes, so the read-only runtime never writes
# .pyc; pip and setuptools are not needed at run time.
RUN /opt/venv/bin/pip install --no-compile --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools \
 && /opt/venv/bin/python -m compileall -q --invalidation-mode unchecked-hash \
      "$(/opt/venv/bin/python -c 'import mailgate, os; print(os.path.dirname(mailgate.__file__))')"

# --- runtime --------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS runtime
# A system user without a shell or a writable home; /srv/mailgate is its read-only home
# and working directory, /var/lib/mailgate its only persistent data (preferences).
RUN groupadd --system --gid 10001 mailgate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv/mailgate --no-create-home \
      --shell /usr/sbin/nologin mailgate \
 && install -d -o root -g root -m 0555 /srv/mailgate \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/mailgate \
 && rm -rf /root/.cache /tmp/*
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/srv/mailgate \
    TMPDIR=/tmp \
    MAILGATE_SERVER_HOST=0.0.0.0 \
    MAILGATE_SERVER_PORT=8443 \
    MAILGATE_TLS_CERT_FILE=/run/secrets/tls_cert \
    MAILGATE_TLS_KEY_FILE=/run/secrets/tls_key \
    MAILGATE_DATA_DIR=/var/lib/mailgate
WORKDIR /srv/mailgate
VOLUME ["/var/lib/mailgate"]
EXPOSE 8443
USER 10001:10001
# SIGTERM: stop accepting, finish requests in flight within server.shutdown_timeout_s
# (default 10 s; give the container a longer stop timeout), close upstream connections
# and wipe every session's data before exit.
STOPSIGNAL SIGTERM
# Loopback GET /healthz over HTTPS with python (no curl in the image). The listener must
# present exactly the configured certificate: no verification is skipped.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys; from mailgate.check import healthcheck; sys.exit(healthcheck())"]
ENTRYPOINT ["mailgate"]
CMD ["serve"]
