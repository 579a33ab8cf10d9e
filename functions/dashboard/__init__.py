"""The web dashboard: the blueprint that serves the single-page UI, its versioned assets and its anonymous config.

The UI itself is plain JavaScript modules and CSS under ``functions/static/dashboard/`` (third-party code, MSAL.js,
is vendored into ``functions/static/vendor/`` by ``tools/vendor.py``); it talks only to the ``/api/v1`` routes.
"""
