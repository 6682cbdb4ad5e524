"""The ID token checks the library leaves out: issuer, audience, algorithm, expiry, nonce.

Tokens are signed here with a throwaway RSA key (the provider mock only ever signs correct
ones), and checked by the real backend code.
"""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import SuspiciousOperation

from accounts.oidc import ProviderConfig, SSOBackend

ISSUER = "https://idp.shop.test"
CLIENT_ID = "repairshop"


@pytest.fixture(scope="module")
def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def backend(settings):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    backend = SSOBackend()
    backend._configure(
        ProviderConfig(
            issuer=ISSUER,
            authorization_endpoint=f"{ISSUER}/authorize",
            token_endpoint=f"{ISSUER}/token",
            userinfo_endpoint="",
            jwks_uri=f"{ISSUER}/jwks",
            end_session_endpoint="",
        )
    )
    return backend


def claims(**overrides):
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "s-1",
        "iat": now,
        "exp": now + 300,
        "nonce": "n-1",
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def sign(key, payload, algorithm="RS256"):
    return jwt.encode(payload, key, algorithm=algorithm)


def test_good_token_passes(backend, key):
    payload = backend._verify_jws(sign(key, claims()), key.public_key())
    assert payload["sub"] == "s-1"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://evil.test"},
        {"aud": "another-client"},
        {"aud": None},
        {"iss": None},
        {"exp": int(time.time()) - 3600},
        {"sub": None},
    ],
    ids=["wrong-iss", "wrong-aud", "no-aud", "no-iss", "expired", "no-sub"],
)
def test_bad_claims_are_refused(backend, key, overrides):
    with pytest.raises(SuspiciousOperation):
        backend._verify_jws(sign(key, claims(**overrides)), key.public_key())


def test_other_algorithms_are_refused(backend, key):
    hs256 = jwt.encode(claims(), "client-secret-as-hmac-key-0123456789", algorithm="HS256")
    with pytest.raises(SuspiciousOperation):
        backend._verify_jws(hs256, key.public_key())
    unsigned = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(SuspiciousOperation):
        backend._verify_jws(unsigned, key.public_key())


def test_signature_by_another_key_is_refused(backend, key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(SuspiciousOperation):
        backend._verify_jws(sign(other, claims()), key.public_key())


def test_several_audiences_need_azp(backend, key, settings):
    settings.OIDC_RP_IDP_SIGN_KEY = None
    backend.OIDC_RP_IDP_SIGN_KEY = key.public_key()
    token = sign(key, claims(aud=[CLIENT_ID, "someone-else"]))
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token, nonce="n-1")
    token = sign(key, claims(aud=[CLIENT_ID, "someone-else"], azp=CLIENT_ID))
    assert backend.verify_token(token, nonce="n-1")["sub"] == "s-1"


def test_nonce_must_match(backend, key):
    backend.OIDC_RP_IDP_SIGN_KEY = key.public_key()
    token = sign(key, claims())
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(token, nonce="another")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(sign(key, claims(nonce=None)), nonce=None)


def test_password_login_never_reaches_the_provider(rf, settings):
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_OP_ISSUER = "http://127.0.0.1:9"
    request = rf.post("/accounts/login/?code=abc&state=def")
    # No nonce: this is not the SSO callback, so no token exchange is attempted.
    assert SSOBackend().authenticate(request, username="x", password="y") is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_sign_in_of_one_identity_makes_one_user(postgresql_only, settings):
    """Two tabs finishing the same person's first sign-in at once: one user, no error."""
    import threading

    from django.db import connection

    from accounts.models import User

    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    payload = {"iss": ISSUER, "sub": "twin-sub", "email": "twin@shop.test", "roles": []}
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sign_in():
        try:
            backend = SSOBackend()
            backend._configure(
                ProviderConfig(ISSUER, f"{ISSUER}/a", f"{ISSUER}/t", "", f"{ISSUER}/j", "")
            )
            barrier.wait(timeout=5)
            results.append(backend.get_or_create_user("access", "id", payload).pk)
        except Exception as exc:  # reported below, with the other thread's result
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(set(results)) == 1
    assert User.objects.filter(oidc_subject="twin-sub").count() == 1
