"""The ASGI application of `graphc serve`: a JSON API under `/api` and the console's pages, on Starlette.

Nobody gets in without a token: the API takes `Authorization: Bearer TOKEN`, the console a
login that keeps the token's id in a signed session cookie. Every form carries a CSRF token
of the session's. Mutating API calls honour `Idempotency-Key`: a retried request gets the
first one's answer, so a webhook retried by its sender never answers a wait twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from . import operations
from .operations import Refused
from .store import Caller, ConsoleStore

HERE = Path(__file__).parent
_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string"},
    "description": "a retry gets the first answer",
}
_RUN = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, kind: str, about: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": about}


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "graphc serve", "version": "1", "description": "Durable runs: read them, answer their waits."},
    "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
    "security": [{"token": []}],
    "paths": {
        "/api/runs": {
            "get": {
                "summary": "The runs, newest first (viewer)",
                "parameters": [
                    _query("status", "string", "running, waiting, sleeping, success, error or cancelled"),
                    _query("graph", "string", "the graph's name"),
                    _query("q", "string", "text in the id, graph or node"),
                    _query("waiting", "string", "`me`: the runs waiting for an answer the caller may give"),
                    _query("limit", "integer", "at most this many (default 50)"),
                    _query("offset", "integer", "skip this many"),
                ],
                "responses": {"200": {"description": "`{total, runs}`"}, "401": {"description": "no live token"}},
            },
            "post": {
                "summary": "Queue a run for the workers: of the spec the newest run of `graph` runs (operator), "
                "or of a spec sent as `source` (admin)",
                "parameters": [_KEY],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "graph": {"type": "string", "description": "run the stored spec of this graph"},
                                    "source": {"type": "string", "description": "or this spec's text"},
                                    "name": {"type": "string", "description": "its file name (`x.graph`)"},
                                    "files": {"type": "object", "description": "the specs it uses: path → text"},
                                    "start": {"type": "string", "description": "the start node (default the spec's)"},
                                    "args": {"type": "object", "description": "the start node's arguments"},
                                    "state": {"type": "object", "description": "the initial state"},
                                    "run_id": {"type": "string"},
                                    "max_steps": {"type": "integer"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "201": {"description": "the run, queued"},
                    "403": {"description": "not an operator, or a sent spec without the admin role"},
                    "404": {"description": "no stored spec of that graph"},
                    "409": {"description": "the run id is taken"},
                    "422": {"description": "the spec does not compile here, or bad `start`, `args` or `state`"},
                },
            },
        },
        "/api/runs/{run_id}": {
            "get": {
                "summary": "One run: status, node, history with the state after each step, the schema of its wait",
                "parameters": [_RUN],
                "responses": {"200": {"description": "the run"}, "404": {"description": "no such run"}},
            }
        },
        "/api/runs/{run_id}/events": {
            "get": {
                "summary": "The run's steps and changes as server-sent events (`step`, `status`), until it ends",
                "parameters": [_RUN],
                "responses": {"200": {"description": "text/event-stream"}},
            }
        },
        "/api/runs/{run_id}/answer": {
            "post": {
                "summary": "Answer the wait a run is at: validated by its schema, one answer per wait (operator)",
                "parameters": [_RUN, _KEY],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["input"],
                                "properties": {
                                    "input": {"type": "object", "description": "a value per waited-for field"},
                                    "wait": {"type": "integer", "description": "the wait it answers"},
                                },
                            }
                        }
                    }
                },
                "responses": {
                    "200": {"description": "the run after"},
                    "403": {"description": "not an operator"},
                    "409": {"description": "answered already, moved on, or not waiting"},
                    "422": {"description": "the answer does not fit the wait's schema; the run is unchanged"},
                },
            }
        },
        "/api/runs/{run_id}/retry": {
            "post": {
                "summary": "A new run of a failed submitted run, from the step that failed: `RUN.retry-N` (operator)",
                "parameters": [_RUN, _KEY],
                "responses": {"200": {"description": "the new run"}, "409": {"description": "it has not failed"}},
            }
        },
        "/api/runs/{run_id}/fork": {
            "post": {
                "summary": "A new run that keeps the first `step` nodes and goes on, with `state` if given (operator)",
                "parameters": [_RUN, _KEY],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["step"],
                                "properties": {"step": {"type": "integer"}, "state": {"description": "the state"}},
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "the new run"}, "409": {"description": "it cannot be forked"}},
            }
        },
        "/api/runs/{run_id}/link": {
            "post": {
                "summary": "A signed one-off link to the wait's form, for an e-mail: no login, this wait only, "
                "until its deadline (or 7 days) or until an answer takes it (operator)",
                "parameters": [_RUN, _KEY],
                "responses": {"200": {"description": "`{url, run, wait, expires}`"}, "409": {"description": "no wait"}},
            }
        },
        "/api/runs/{run_id}/cancel": {
            "post": {
                "summary": "Cancel a run that has not ended (operator)",
                "parameters": [_RUN, _KEY],
                "responses": {"200": {"description": "the run after"}, "409": {"description": "it has ended"}},
            }
        },
    },
}
"""The API's OpenAPI document, served at `/api/openapi.json`."""


def create_app(
    db: str | None = None, *, secret: str | None = None, allowed_imports: list[str] | None = None
) -> Starlette:
    """The application over the runs of `db` (a URL or SQLite path; default `$GRAPHC_DB`).

    Args:
        db: The run database.
        secret: Signs session cookies; default a random one (sessions then end when the server does).
        allowed_imports: The modules the specs of runs started through the API may import (default none).
    """
    from runtime.durable import DurableRuns

    runs = DurableRuns(db)
    runs._db(create=True)
    store = ConsoleStore(runs.url)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    secret = secret or secrets.token_urlsafe(32)
    links = _Links(secret)
    api = _Api(runs, store, links, sorted(allowed_imports or []))
    console = _Console(runs, store, templates, links)
    routes = [
        Route("/api/runs", api.list_runs, methods=["GET"]),
        Route("/api/runs", api.start, methods=["POST"]),
        Route("/api/runs/{run_id:str}", api.show, methods=["GET"]),
        Route("/api/runs/{run_id:str}/events", api.events, methods=["GET"]),
        Route("/api/runs/{run_id:str}/answer", api.answer, methods=["POST"]),
        Route("/api/runs/{run_id:str}/cancel", api.cancel, methods=["POST"]),
        Route("/api/runs/{run_id:str}/retry", api.retry, methods=["POST"]),
        Route("/api/runs/{run_id:str}/fork", api.fork, methods=["POST"]),
        Route("/api/runs/{run_id:str}/link", api.link, methods=["POST"]),
        Route("/api/openapi.json", lambda request: JSONResponse(OPENAPI)),
        Route("/login", console.login, methods=["GET", "POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/", console.list_runs, methods=["GET"]),
        Route("/runs/{run_id:str}", console.show, methods=["GET"]),
        Route("/runs/{run_id:str}/answer", console.answer, methods=["POST"]),
        Route("/runs/{run_id:str}/cancel", console.cancel, methods=["POST"]),
        Route("/runs/{run_id:str}/retry", console.retry, methods=["POST"]),
        Route("/runs/{run_id:str}/fork", console.fork, methods=["POST"]),
        Route("/answer/{token:str}", console.answer_by_link, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SessionMiddleware, secret_key=secret, same_site="strict")]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        runs.close()  # cleanly: a SQLite database is one file again

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.runs, app.state.store = runs, store
    return app


def _caller(store: ConsoleStore, request: Request, *, cookie: bool) -> Caller | None:
    """Who is asking: a bearer token's holder, else (if `cookie`: reading only) the console session's.

    A change through the API needs the bearer token: a cookie rides along with any page's
    request, so a forged one from another site could otherwise act as the logged-in person.
    """
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return store.caller(header[7:].strip())
    token_id = request.session.get("token_id") if cookie else None
    return store.live(token_id) if isinstance(token_id, str) else None


async def _blocking(work: Callable[[], Any]) -> Any:
    """Run a database call off the event loop."""
    return await asyncio.to_thread(work)


class _Links:
    """Signed one-off links to one wait's form, for an approval e-mail: valid until the wait is taken or expires.

    The link holds the run, the wait's number and who made it, signed with the server's
    secret (itsdangerous); it works without a login, for that wait only, until its deadline
    (or `LINK_DAYS` without one) — or until an answer takes the wait, whoever gave it.
    """

    LINK_DAYS = 7

    def __init__(self, secret: str) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self.signer = URLSafeTimedSerializer(secret, salt="graphc-answer-link")

    def make(self, info: Any, who: str) -> dict[str, Any]:
        from datetime import datetime, timedelta, timezone

        expires = info.wakes or datetime.now(timezone.utc) + timedelta(days=self.LINK_DAYS)
        token = self.signer.dumps({"run": info.id, "wait": info.wait_ordinal, "by": who, "until": expires.timestamp()})
        return {"url": f"/answer/{token}", "run": info.id, "wait": info.wait_ordinal, "expires": expires.isoformat()}

    def read(self, token: str) -> dict[str, Any] | None:
        """The link's run, wait and maker; None if it was not made here, was altered or has expired."""
        import time

        from itsdangerous import BadSignature

        try:
            data = self.signer.loads(token, max_age=self.LINK_DAYS * 86400)
        except BadSignature:
            return None
        return data if isinstance(data, dict) and data.get("until", 0) > time.time() else None


class _Api:
    def __init__(self, runs: Any, store: ConsoleStore, links: _Links, allowed_imports: list[str]) -> None:
        self.runs, self.store, self.links, self.allowed_imports = runs, store, links, allowed_imports

    async def _as(
        self, request: Request, role: str, work: Callable[[Caller], Awaitable[Response]], *, mutating: bool = False
    ) -> Response:
        caller = await _blocking(lambda: _caller(self.store, request, cookie=not mutating))
        if caller is None:
            return JSONResponse({"error": "a bearer token is needed (graphc tokens add)"}, status_code=401)
        if not caller.may(role):
            return JSONResponse({"error": f"this needs the {role} role; yours is {caller.role}"}, status_code=403)
        key = request.headers.get("idempotency-key") if mutating else None
        if key:
            before = await _blocking(lambda: self.store.begin_request(caller.token_id, key))
            if before is not None:
                status, body = before
                if status == 0:
                    return JSONResponse({"error": "a request with this Idempotency-Key is in progress"}, 409)
                return JSONResponse(body, status_code=status, headers={"Idempotent-Replayed": "true"})
        try:
            response = await work(caller)
        except Refused as e:
            response = JSONResponse({"error": str(e)}, status_code=e.status)
        if key:
            body = response.body
            await _blocking(lambda: self.store.end_request(caller.token_id, key, response.status_code, _json(body)))
        return response

    async def list_runs(self, request: Request) -> Response:
        """The runs, filtered and paged (see `OPENAPI`)."""

        async def work(caller: Caller) -> Response:
            found = await _blocking(lambda: listed(self.runs, dict(request.query_params), caller))
            return JSONResponse(found)

        return await self._as(request, "viewer", work)

    async def start(self, request: Request) -> Response:
        """Queue a run of a stored or sent spec for the workers."""

        async def work(caller: Caller) -> Response:
            body = await _body(request)
            info = await _blocking(lambda: operations.start(self.runs, caller, body, self.allowed_imports))
            return JSONResponse(info.as_json(), status_code=201)

        return await self._as(request, "operator", work, mutating=True)

    async def show(self, request: Request) -> Response:
        """One run with its history."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            return JSONResponse(await _blocking(lambda: operations.run_json(self.runs, self.store, run_id)))

        return await self._as(request, "viewer", work)

    async def events(self, request: Request) -> Response:
        """A run's events as server-sent events, until it ends."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            await _blocking(lambda: operations.run_json(self.runs, self.store, run_id))  # 404 before streaming

            async def stream() -> AsyncIterator[str]:
                events = iter(self.runs.watch(run_id))
                while (event := await _blocking(lambda: next(events, None))) is not None:
                    yield f"event: {event['event']}\ndata: {json.dumps(event)}\n\n"

            return StreamingResponse(stream(), media_type="text/event-stream")

        return await self._as(request, "viewer", work)

    async def answer(self, request: Request) -> Response:
        """Answer the wait a run is at."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            body = await _body(request)
            values, wait = body.get("input"), body.get("wait")
            info = await _blocking(lambda: operations.answer(self.runs, self.store, caller, run_id, values, wait))
            return JSONResponse(info.as_json())

        return await self._as(request, "operator", work, mutating=True)

    async def cancel(self, request: Request) -> Response:
        """Cancel a run."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            info = await _blocking(lambda: operations.cancel(self.runs, run_id))
            return JSONResponse(info.as_json())

        return await self._as(request, "operator", work, mutating=True)

    async def link(self, request: Request) -> Response:
        """A signed one-off link to the form of the wait a run is at."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            info = await _blocking(lambda: self.runs.get(run_id))
            if info.status != "waiting" or not info.queued:
                raise Refused(409, f"run `{run_id}` is not a submitted run waiting for an answer ({info.status})")
            return JSONResponse(self.links.make(info, caller.name))

        return await self._as(request, "operator", work, mutating=True)

    async def retry(self, request: Request) -> Response:
        """Retry a failed run."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            return JSONResponse((await _blocking(lambda: operations.retry(self.runs, run_id))).as_json())

        return await self._as(request, "operator", work, mutating=True)

    async def fork(self, request: Request) -> Response:
        """Fork a run from a step."""
        run_id = request.path_params["run_id"]

        async def work(caller: Caller) -> Response:
            body = await _body(request)
            forked = await _blocking(lambda: operations.fork(self.runs, run_id, body.get("step"), body.get("state")))
            return JSONResponse(forked.as_json())

        return await self._as(request, "operator", work, mutating=True)


def listed(runs: Any, query: dict[str, str], caller: Caller) -> dict[str, Any]:
    """Runs filtered by status, graph and text, newest first, a page of them.

    `waiting=me`: the runs waiting for an answer the caller may give here (an operator's; a
    viewer has none).
    """
    status = query.get("status") or None
    found = runs.list(status) if status in (None, *_STATUSES) else []
    if query.get("waiting") == "me":
        found = [r for r in found if r.status == "waiting" and r.queued and caller.may("operator")]
    if graph := query.get("graph"):
        found = [r for r in found if r.graph == graph]
    if text := query.get("q", "").lower():
        found = [r for r in found if text in f"{r.id} {r.graph} {r.node or ''}".lower()]
    found = operations.newest_first(found)
    limit, offset = _number(query.get("limit"), 50, 500), _number(query.get("offset"), 0, 10**9)
    return {"total": len(found), "runs": [r.as_json() for r in found[offset : offset + limit]]}


_STATUSES = ("queued", "running", "waiting", "sleeping", "success", "error", "cancelled")


def _number(text: str | None, default: int, most: int) -> int:
    try:
        return max(0, min(int(text), most)) if text else default
    except ValueError:
        return default


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise Refused(400, "the body is a JSON object")
    return body


def _json(body: bytes | memoryview) -> Any:
    return json.loads(bytes(body))


class _Console:
    """The pages: the runs, one run (diagram, steps, the wait's form), login."""

    def __init__(self, runs: Any, store: ConsoleStore, templates: Jinja2Templates, links: _Links) -> None:
        self.runs, self.store, self.templates, self.links = runs, store, templates, links

    def _page(self, request: Request, name: str, caller: Caller | None, **context: Any) -> HTMLResponse:
        csrf = request.session.setdefault("csrf", secrets.token_urlsafe(16))
        status = context.pop("status", 200)
        return self.templates.TemplateResponse(
            request, name, {"caller": caller, "csrf": csrf, **context}, status_code=status
        )

    async def _session(self, request: Request) -> Caller | None:
        token_id = request.session.get("token_id")
        return await _blocking(lambda: self.store.live(token_id)) if isinstance(token_id, str) else None

    async def _form(self, request: Request) -> dict[str, str] | None:
        """The submitted form, if its CSRF token is the session's."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        expected = request.session.get("csrf")
        if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
            return None
        return form

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self._page(request, "login.html", None)
        form = await self._form(request)
        if form is None:
            return self._page(request, "login.html", None, error="the form expired: try again", status=400)
        caller = await _blocking(lambda: self.store.caller(form.get("token", "").strip()))
        if caller is None:
            return self._page(request, "login.html", None, error="that token is not a live one", status=401)
        request.session.clear()
        request.session.update({"token_id": caller.token_id, "csrf": secrets.token_urlsafe(16)})
        return RedirectResponse("/", status_code=303)

    async def logout(self, request: Request) -> Response:
        if await self._form(request) is not None:
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def list_runs(self, request: Request) -> Response:
        caller = await self._session(request)
        if caller is None:
            return RedirectResponse("/login", status_code=303)
        query = dict(request.query_params)
        found = await _blocking(lambda: listed(self.runs, query, caller))
        return self._page(request, "runs.html", caller, found=found, query=query, statuses=_STATUSES)

    async def show(self, request: Request, *, error: str | None = None, values: Any = None) -> Response:
        caller = await self._session(request)
        if caller is None:
            return RedirectResponse("/login", status_code=303)
        run_id = request.path_params["run_id"]
        try:
            data = await _blocking(lambda: operations.run_json(self.runs, self.store, run_id))
        except Refused as e:
            return self._page(request, "error.html", caller, error=str(e), status=e.status)
        info = await _blocking(lambda: self.runs.get(run_id))
        spec = await _blocking(lambda: operations.spec_view(self.runs, info, data["path"]))
        fields = operations.form_fields(data["waits_for"])
        return self._page(
            request,
            "run.html",
            caller,
            run=data,
            spec=spec,
            fields=fields,
            error=error,
            values=values or {},
            status=422 if error else 200,
        )

    async def answer(self, request: Request) -> Response:
        caller = await self._session(request)
        if caller is None:
            return RedirectResponse("/login", status_code=303)
        form = await self._form(request)
        run_id = request.path_params["run_id"]
        if form is None:
            return await self.show(request, error="the form expired: reload the page and answer again")
        if not caller.may("operator"):
            return await self.show(request, error=f"answering needs the operator role; yours is {caller.role}")
        info = await _blocking(lambda: self.runs.get(run_id))
        fields = operations.form_fields(info.waits_for)
        values, problems = operations.form_values(fields, form)
        wait = int(form["wait"]) if form.get("wait", "").isdigit() else None
        if problems:
            return await self.show(request, error="; ".join(problems), values=form)
        try:
            await _blocking(lambda: operations.answer(self.runs, self.store, caller, run_id, values, wait))
        except Refused as e:
            return await self.show(request, error=str(e), values=form)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    async def answer_by_link(self, request: Request) -> Response:
        """A one-off link's page: the form of one wait, answered without a login."""
        link = self.links.read(request.path_params["token"])
        if link is None:
            return self._page(
                request, "error.html", None, error="this link is not valid, or it has expired", status=403
            )
        run_id, wait = str(link["run"]), int(link["wait"])
        try:
            info = await _blocking(lambda: operations._get(self.runs, run_id))
        except Refused as e:
            return self._page(request, "error.html", None, error=str(e), status=e.status)
        if info.status != "waiting" or info.wait_ordinal != wait:
            taken = f"this wait was answered already (the run is {info.status})"
            return self._page(request, "error.html", None, error=taken, status=410)
        fields = operations.form_fields(info.waits_for)
        error, values = None, {}
        if request.method == "POST":
            form = await self._form(request)
            if form is None:
                error = "the form expired: reload the page and answer again"
            else:
                answer, problems = operations.form_values(fields, form)
                caller = Caller(token_id="", name=f"{link['by']}'s link", role="operator")
                try:
                    if problems:
                        raise Refused(422, "; ".join(problems))
                    await _blocking(lambda: operations.answer(self.runs, self.store, caller, run_id, answer, wait))
                except Refused as e:
                    error, values = str(e), form
                else:
                    return self._page(request, "answered.html", None, run=info)
        return self._page(
            request,
            "answer.html",
            None,
            run=info,
            fields=fields,
            error=error,
            values=values,
            status=422 if error else 200,
        )

    async def cancel(self, request: Request) -> Response:
        return await self._operate(request, "cancelling", lambda run_id, form: operations.cancel(self.runs, run_id))

    async def retry(self, request: Request) -> Response:
        return await self._operate(request, "retrying", lambda run_id, form: operations.retry(self.runs, run_id))

    async def fork(self, request: Request) -> Response:
        def work(run_id: str, form: dict[str, str]) -> Any:
            step = int(form["step"]) if form.get("step", "").isdigit() else None
            try:
                state = json.loads(form["state"]) if form.get("state", "").strip() else None
            except ValueError:
                raise Refused(422, "the state is not JSON") from None
            return operations.fork(self.runs, run_id, step, state)

        return await self._operate(request, "forking", work)

    async def _operate(self, request: Request, doing: str, work: Callable[[str, dict[str, str]], Any]) -> Response:
        """A button's form: checked (session, CSRF, role), done, then the run it made or changed."""
        caller = await self._session(request)
        if caller is None:
            return RedirectResponse("/login", status_code=303)
        form = await self._form(request)
        run_id = request.path_params["run_id"]
        if form is None or not caller.may("operator"):
            why = "the form expired" if form is None else f"{doing} needs the operator role; yours is {caller.role}"
            return await self.show(request, error=why)
        try:
            info = await _blocking(lambda: work(run_id, form))
        except Refused as e:
            return await self.show(request, error=str(e))
        return RedirectResponse(f"/runs/{quote(info.id, safe='')}", status_code=303)
