# One image for every process: web (default), worker and release, chosen by command.
#   docker build -t site .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... -e ALLOWED_HOSTS=... -p 8000:8000 site
#   docker run ... site python manage.py db_worker --queue-name default,email,webhooks,search

FROM python:3.13-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, so a code change doesn't reinstall them.
COPY pyproject.toml uv.lock .python-version ./
RUN uv sync --locked --no-dev
COPY . .
RUN SECRET_KEY=collectstatic DATABASE_URL=sqlite:// ALLOWED_HOSTS=localhost \
    .venv/bin/python manage.py collectstatic --noinput

FROM python:3.13-slim
RUN useradd --create-home --uid 1000 app
WORKDIR /app
COPY --from=build --chown=app:app /app /app
USER app
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=config.settings.prod \
    PORT=8000
EXPOSE 8000
# /healthz is exempt from the HTTPS redirect; the Host header must be one ALLOWED_HOSTS accepts.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD python -c "\
import os, urllib.request; \
host = os.environ['ALLOWED_HOSTS'].split(',')[0].strip().lstrip('.'); \
urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:' + os.environ['PORT'] + '/healthz', headers={'Host': host}), timeout=4)"
CMD ["gunicorn", "config.wsgi", "--config", "config/gunicorn.py"]
