# One image for the web, worker and beat services of docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    FERRY_VAR_DIR=/var/lib/ferry PATH=/app/.venv/bin:$PATH
WORKDIR /app

RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client curl procps \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/ferry --create-home ferry

COPY requirements.txt .
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir uv==0.13.9 \
    && .venv/bin/uv pip install --no-cache --compile-bytecode --python .venv/bin/python -r requirements.txt

COPY . .
RUN SECRET_KEY=build-only .venv/bin/python manage.py collectstatic --no-input -v0 \
    && chown -R ferry /var/lib/ferry
USER ferry
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "portal.asgi:application"]
