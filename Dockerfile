# one-net map, production-like image: Debian 12 (bookworm), Python 3.11, GeoDjango under uvicorn (ASGI).
#
# Build where the package registries are reachable (PyPI, npm, Debian), then move the image into the
# closed network (`docker save` / `docker load`): at run time the app needs no internet at all; the map
# libraries are served from its own static files.

# --- front-end assets (OpenLayers for the admin map, later the map pages), from npm ---
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# --- the application ---
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=gisapp.settings
# GeoDjango loads GDAL, GEOS and PROJ at run time (Debian 12: GDAL 3.6); no -dev packages are needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgdal32 libgeos-c1v5 libproj25 proj-data \
        fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --create-home --home-dir /home/onenet onenet
WORKDIR /app
COPY . .
COPY --from=frontend /src/frontend/dist /app/frontend/dist
RUN pip install -e . \
    && python manage.py collectstatic --noinput -v 0 \
    && python -m tiles.glyphs \
    && chown -R onenet: /app/var
USER onenet
EXPOSE 8000
# docker-compose.yml repeats this command (with the migrate step as a separate service).
CMD ["uvicorn", "gisapp.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log"]
