# syntax=docker/dockerfile:1
#
# One image for every process of the Procfile; the command picks the role:
#   docker build -t site .
#   docker run --env-file .env site python manage.py migrate --noinput     # release, once per deploy
#   docker run --env-file .env -p 8000:8000 site                          # web (the default)
#   docker run --env-file .env --health-cmd "python manage.py worker_health general" \
#       site python manage.py runworker general                            # general
#   docker run --env-file .env --health-cmd "python manage.py worker_health webhooks" \
#       site python manage.py runworker webhooks                           # webhooks
#   docker run --env-file .env site python manage.py runscheduler          # scheduler
# Give processes time to finish their current request or task on `docker stop`:
#   docker stop --time 30 ...   (compose: stop_grace_period: 30s)
#
# No Docker engine on the machine where this was written: .ci/check-image runs each
# command below in a fresh environment instead (see the README).

FROM python:3.13-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first: this layer is reused until uv.lock changes.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=.python-version,target=.python-version \
    uv sync --locked --no-dev
COPY . /app
# Static files are collected at build time (whitenoise serves them); the settings only
# need placeholder values to load. The site's own code is compiled to bytecode too.
RUN DJANGO_SETTINGS_MODULE=config.settings.prod SECRET_KEY=build-only-placeholder-collectstatic-signs-nothing-0123456789 \
    DATABASE_URL=sqlite:// ALLOWED_HOSTS=localhost \
    .venv/bin/python manage.py collectstatic --noinput \
 && .venv/bin/python -m compileall -q config accounts notifications safeguards worker

FROM python:3.13-slim
RUN groupadd --system app && useradd --system --gid app --no-create-home app
WORKDIR /app
COPY --from=build --chown=root:root /app /app
USER app
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=config.settings.prod \
    PORT=8000
EXPOSE 8000
STOPSIGNAL SIGTERM
# For web. /healthz is exempt from the HTTPS redirect; the Host header must be one that
# ALLOWED_HOSTS accepts. Worker containers override this with
# `manage.py worker_health <process type>`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import os, urllib.request; host = os.environ['ALLOWED_HOSTS'].split(',')[0].strip().lstrip('.'); urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', headers={'Host': host}), timeout=4)"]
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py"]
