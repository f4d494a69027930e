"""The WSGI entry point for your own gunicorn: ``gunicorn 'budget_exporter.app:create_app()'``."""

from .service.wsgi import create_app

__all__ = ["create_app"]
