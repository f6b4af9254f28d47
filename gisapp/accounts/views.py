"""API authentication: username + password → a bearer token."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from gisapp.views import error_json as error

from .models import ApiToken

TOKEN_LIFETIME = timezone.timedelta(hours=12)


@csrf_exempt  # no session is involved: the password itself is the credential
def token(request):
    if request.method != "POST":
        response = error(405, "只接受 POST", "use POST")
        response["Allow"] = "POST"
        return response
    from gisapp import ratelimit

    over = ratelimit.exceeded(request, "token")  # wrong passwords are counted per address, below
    if over is not None:
        return ratelimit.too_many(over)
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return error(400, "请求体不是有效的 JSON", "request body is not valid JSON")
        if not isinstance(data, dict):
            return error(400, "请求体应为 JSON 对象", "request body must be a JSON object")
    else:
        data = request.POST
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return error(400, "需要用户名和密码", "username and password are required")
    user = authenticate(request, username=username, password=password)
    if user is None:
        ratelimit.hit(request, "token")
        return error(401, "用户名或密码错误", "wrong username or password")
    profile = getattr(user, "profile", None)
    if profile is not None and profile.is_demo and not settings.DEMO_MODE:
        return error(403, "演示账号仅在演示模式下可用", "demo accounts work only in demo mode")
    raw = ApiToken.issue(user, TOKEN_LIFETIME)
    return JsonResponse(
        {"token": raw, "token_type": "Bearer", "expires_in": int(TOKEN_LIFETIME.total_seconds())}
    )
