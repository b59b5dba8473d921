"""Two-legged OAuth 1.0a verification of every API request (consumer key + secret, no token,
HMAC-SHA1), with oauthlib's ``SignatureOnlyEndpoint``: the same library ``requests-oauthlib``
signs with, so a client and this check agree on the signature base string.

Refused (401): a missing or malformed ``Authorization`` header, another signature method, an
unknown consumer key, a wrong signature (e.g. a wrong secret, or a URL/query changed after
signing), a timestamp more than ``window_seconds`` from the wall clock, and a nonce the same
consumer key already used inside that window (a replayed request). The window uses the wall
clock, not the emulator clock: clients sign with theirs.
"""

from __future__ import annotations

import hmac
import threading
import time

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, RequestValidator, SignatureOnlyEndpoint
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from include.emulators.kit.http import Request


class NonceStore:
    """Nonces seen per consumer key, forgotten once their request could no longer be valid."""

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = window_seconds
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def use(self, client_key: str, nonce: str) -> bool:
        """Record the nonce; False if it was already used (a replay)."""
        now = time.time()
        with self._lock:
            if len(self._seen) > 10_000:
                horizon = now - 2 * self.window_seconds
                self._seen = {k: t for k, t in self._seen.items() if t >= horizon}
            key = (client_key, nonce)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


class _Validator(RequestValidator):
    enforce_ssl = False  # the emulator serves plain HTTP on loopback

    def __init__(
        self, consumer_key: str, consumer_secret: str, window_seconds: float, nonces: NonceStore
    ) -> None:
        super().__init__()
        self._key = consumer_key
        self._secret = consumer_secret
        self._window = int(window_seconds)
        self._nonces = nonces

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA1,)

    @property
    def timestamp_lifetime(self) -> int:
        return self._window

    @property
    def dummy_client(self) -> str:
        return "unknown-consumer"

    # oauthlib's default format checks (20-30 characters) would refuse short demo keys; the
    # platform issues its own keys, so any non-empty key and nonce are well-formed here.
    def check_client_key(self, client_key: str) -> bool:
        return bool(client_key) and len(client_key) <= 255

    def check_nonce(self, nonce: str) -> bool:
        return bool(nonce) and len(nonce) <= 255

    def validate_client_key(self, client_key: str, request: object) -> bool:
        return hmac.compare_digest(client_key.encode(), self._key.encode())

    def get_client_secret(self, client_key: str, request: object) -> str:
        # The dummy client gets a secret too, so an unknown key costs the same work (oauthlib's design).
        return self._secret if client_key == self._key else "not-the-secret"

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: object,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        return self._nonces.use(client_key, nonce)


class OAuthVerifier:
    def __init__(self, consumer_key: str, consumer_secret: str, window_seconds: float = 300.0) -> None:
        self.nonces = NonceStore(window_seconds)
        self._endpoint = SignatureOnlyEndpoint(
            _Validator(consumer_key, consumer_secret, window_seconds, self.nonces)
        )

    def verify(self, request: Request) -> str | None:
        """None when the request is correctly signed, else why it is refused."""
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not authorization.lower().startswith("oauth "):
            return "OAuth 1.0a Authorization header missing"
        body = request.body.decode("utf-8", "replace") if request.body else None
        valid, oauth_request = self._endpoint.validate_request(request.url, request.method, body, headers)
        if valid:
            return None
        log = getattr(oauth_request, "validator_log", None) or {}
        if log:  # the signature itself was checked
            return "Unknown consumer key" if not log.get("client") else "Invalid signature"
        return self._precheck_reason(authorization)

    def _precheck_reason(self, authorization: str) -> str:
        """Why oauthlib refused before checking the signature (it only answers False)."""
        try:
            params = dict(parse_authorization_header(authorization))
        except (ValueError, IndexError):
            return "Malformed OAuth Authorization header"
        required = (
            "oauth_consumer_key",
            "oauth_signature",
            "oauth_signature_method",
            "oauth_nonce",
            "oauth_timestamp",
        )
        missing = [name for name in required if not params.get(name)]
        if missing:
            return f"Missing OAuth parameters: {', '.join(missing)}"
        if params["oauth_signature_method"] != SIGNATURE_HMAC_SHA1:
            return f"Signature method {params['oauth_signature_method']} not supported (use HMAC-SHA1)"
        try:
            skew = abs(time.time() - int(params["oauth_timestamp"]))
        except ValueError:
            return "oauth_timestamp is not an integer"
        if skew > self.nonces.window_seconds:
            window = int(self.nonces.window_seconds)
            return f"oauth_timestamp is more than {window} seconds away from the server time"
        return "oauth_nonce was already used (a replayed request)"
