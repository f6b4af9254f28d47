"""ASGI entry point: uvicorn serves this in `./gis up` and in docker-compose."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gisapp.settings")
application = get_asgi_application()
