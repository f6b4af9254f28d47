"""Authentication's part of the OpenAPI document."""

PATHS = {
    "/api/auth/token": {
        "post": {
            "summary": "获取令牌 · a bearer token for username + password",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["username", "password"],
                            "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "a token",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    "token_type": {"type": "string"},
                                    "expires_in": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "400": {"description": "missing or malformed fields"},
                "401": {"description": "wrong username or password"},
                "403": {"description": "a demo account outside demo mode"},
                "429": {"description": "too many attempts from this address: wait Retry-After seconds"},
            },
        }
    }
}
