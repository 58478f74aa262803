"""An xAPI 1.0.3 client over Flask's test client, as an activity provider speaks."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


class Lrs:
    """Requests to /xapi with the version header and a credential, as a provider sends."""

    def __init__(self, client: FlaskClient, key: str, secret: str) -> None:
        self.client = client
        self.key = key
        self.secret = secret

    def headers(self, **extra: str) -> dict[str, str]:
        headers = {
            "X-Experience-API-Version": "1.0.3",
            "Authorization": basic(self.key, self.secret),
        }
        headers.update(extra)
        return headers

    def post(self, body: Any, **headers: str) -> TestResponse:
        return self.client.post(
            "/xapi/statements",
            data=body if isinstance(body, str | bytes) else json.dumps(body),
            headers=self.headers(**{"Content-Type": "application/json", **headers}),
        )

    def put(self, statement_id: str, body: Any, **headers: str) -> TestResponse:
        return self.client.put(
            "/xapi/statements",
            query_string={"statementId": statement_id},
            data=body if isinstance(body, str | bytes) else json.dumps(body),
            headers=self.headers(**{"Content-Type": "application/json", **headers}),
        )

    def get(self, **params: Any) -> TestResponse:
        return self.client.get("/xapi/statements", query_string=params, headers=self.headers())

    def get_url(self, url: str) -> TestResponse:
        return self.client.get(url, headers=self.headers())
