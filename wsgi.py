"""WSGI entry point: ``flask --app wsgi ...`` and ``gunicorn wsgi:app``."""

import gc

from app import create_app

app = create_app()
# The app's long-lived objects (modules, templates, mappers) leave the garbage collector's
# generations: a full collection during a large results page then scans only that request's
# objects, not the whole app again (docs/benchmarks.md).
gc.freeze()
