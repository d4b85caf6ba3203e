"""`graphc serve`: an HTTP API and a web console over a run database (`pip install 'graphc[serve]'`).

The only package of graphc that imports the ASGI stack (Starlette, uvicorn). `store` keeps
the console's tables (tokens, idempotent requests, who answered), `operations` what the API
and the pages do with runs, `app` the routes, the login and the CSRF checks.
"""
