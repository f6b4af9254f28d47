"""API authentication: username + password → a bearer token (POST /api/auth/token)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field

from gisapp import ratelimit
from gisapp.apikit import Body, responses
from gisapp.views import error_json as error

from .models import ApiToken

TOKEN_LIFETIME = timezone.timedelta(hours=12)

router = Router(tags=["accounts"])


class Credentials(Body):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=4096)


class Token(Schema):
    token: str
    token_type: str = Field(description="always Bearer")
    expires_in: int = Field(description="seconds")


@router.post(
    "token",
    auth=None,  # no session is involved: the password itself is the credential
    response=responses(Token, 401, 403, 413, 429),
    summary="获取令牌 · a bearer token for username + password (JSON or form body; wrong passwords are "
    "counted per address: 429 with Retry-After past the limit)",
)
def token(request: HttpRequest, credentials: Credentials):
    over = ratelimit.exceeded(request, "token")  # wrong passwords are counted per address, below
    if over is not None:
        return ratelimit.too_many(over)
    user = authenticate(request, username=credentials.username, password=credentials.password)
    if user is None:
        ratelimit.hit(request, "token")
        return error(401, "用户名或密码错误", "wrong username or password")
    profile = getattr(user, "profile", None)
    if profile is not None and profile.is_demo and not settings.DEMO_MODE:
        return error(403, "演示账号仅在演示模式下可用", "demo accounts work only in demo mode")
    raw = ApiToken.issue(user, TOKEN_LIFETIME)
    return {"token": raw, "token_type": "Bearer", "expires_in": int(TOKEN_LIFETIME.total_seconds())}
