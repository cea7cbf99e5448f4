"""Sign up, sign in (rate-limited like the API), sign out (the session cookie holds the
API's signed token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from kryptonite.gateway import accounts
from kryptonite.gateway.deps import LoginLimiterDep, StateDep, client_ip
from kryptonite.gateway.ratelimit import wait_words
from kryptonite.gateway.schemas import RegisterIn
from kryptonite.gateway.web.errors import WebRoute
from kryptonite.gateway.web.render import render
from kryptonite.gateway.web.session import (
    check_csrf,
    clear_session,
    current_user,
    safe_next,
    set_session,
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
OptText = Annotated[str | None, Form(max_length=256)]


def _words(exc: ValidationError) -> dict[str, str]:
    """Validation errors of the sign-up form as sentences, by field (shown next to it)."""
    rules = {
        "username": "Username: use 3–64 letters, digits, dots, dashes or underscores.",
        "password": "Password: use at least 8 characters.",  # pragma: allowlist secret
        "email": "E-mail: that does not look like an address.",
    }
    out: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        out.setdefault(field, rules.get(field, "Please check this field."))
    return out


def _signed_in(request: Request, state, account: accounts.Account, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, accounts.issue_token(state, account), state.tokens.ttl_s)
    return response


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    return render(request, "signup.html", {"title": "Create an account"})


@router.post("/signup")
async def signup(
    request: Request,
    state: StateDep,
    csrf: OptText = None,
    username: OptText = None,
    password: OptText = None,
    email: OptText = None,
) -> Response:
    check_csrf(request, csrf)
    form = {"username": username or "", "email": email or ""}
    try:
        body = RegisterIn(username=username or "", password=password or "", email=email or None)
    except ValidationError as exc:
        fields = _words(exc)
        ctx = {
            "title": "Create an account",
            "errors": list(fields.values()),
            "field_errors": fields,
            "form": form,
        }
        return render(request, "signup.html", ctx, 422)
    try:
        account = await accounts.sign_up(state, body)
    except accounts.AccountTaken:
        errors = ["That username or e-mail is already registered. Sign in instead?"]
        ctx = {
            "title": "Create an account",
            "errors": errors,
            "field_errors": {"username": errors[0]},
            "form": form,
        }
        return render(request, "signup.html", ctx, 409)
    return _signed_in(request, state, account, "/for-you?notice=welcome")


@router.get("/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    ctx = {"title": "Sign in", "next": safe_next(next, "/for-you")}
    return render(request, "signin.html", ctx)


@router.post("/signin")
async def signin(
    request: Request,
    state: StateDep,
    limiter: LoginLimiterDep,
    csrf: OptText = None,
    next: OptText = None,
    username: OptText = None,
    password: OptText = None,
) -> Response:
    check_csrf(request, csrf)
    target = safe_next(next, "/for-you")
    ctx = {"title": "Sign in", "form": {"username": username or ""}, "next": target}
    missing = {
        f: f"{label}: please fill this in."
        for f, label, value in (
            ("username", "Username", username),
            ("password", "Password", password),
        )
        if not value
    }
    if missing:
        ctx |= {"errors": list(missing.values()), "field_errors": missing}
        return render(request, "signin.html", ctx, 422)
    try:
        account = await accounts.sign_in(state, limiter, username, password, client_ip(request))
    except accounts.TooManyAttempts as exc:
        wait = exc.retry_after_s
        ctx["errors"] = [
            f"Too many failed sign-in attempts. Please try again in {wait_words(wait)}."
        ]
        response = render(request, "signin.html", ctx, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    except accounts.WrongCredentials:
        ctx["errors"] = ["Wrong username or password."]
        return render(request, "signin.html", ctx, 401)
    sep = "&" if "?" in target else "?"
    return _signed_in(request, state, account, f"{target}{sep}notice=signed_in")


@router.post("/signout")
async def signout(request: Request, state: StateDep, csrf: OptText = None) -> Response:
    """Clear the cookie and revoke its token (a copy of the cookie stops working too)."""
    check_csrf(request, csrf)
    user = current_user(request)
    if user is not None:
        await accounts.sign_out(state, user)
    response = RedirectResponse("/?notice=signed_out", status_code=303)
    clear_session(response)
    return response
