"""The running exporter: WSGI app, gunicorn server, refresh loop, state folder, reload, web config.

May import every layer below it; only ``cli`` imports it.
"""
