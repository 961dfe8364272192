"""Managed Identity path of ``kanta.storage``: bearer-token client, user delegation SAS.

In Azure, ``KANTA_STORAGE__blobServiceUri`` + ``__clientId`` make Kanta talk to Blob Storage
as its user-assigned Managed Identity and sign browser URLs as *user delegation* SAS. Here
the storage account is real local software: Azurite started with HTTPS and ``--oauth
basic``, which accepts bearer tokens, serves Get User Delegation Key and checks user
delegation SAS (signature, times, permissions) on blob requests. The one thing faked is
what only Azure has: the Managed Identity token endpoint (a fake credential handing out
unsigned JWTs, which Azurite's basic mode accepts: it checks issuer, audience and lifetime,
not signatures) and, in the tests that run without Azurite, Azure's delegation key service.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.storage.blob import UserDelegationKey

from kanta import identity, storage
from kanta.local.services import AZURITE_ACCOUNT, LocalAzurite, azurite_connection_string, free_port

# Made-up identity of a user-assigned Managed Identity: client (application) id, object
# (principal) id and the tenant it lives in.
CLIENT_ID = "3f2a6c1e-8d4b-4e7a-9c0d-1b2e3f4a5b6c"
PRINCIPAL_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
STORAGE_SCOPE = "https://storage.azure.com/.default"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_jwt(claims: dict) -> str:
    """A JWT with ``alg: none`` and an empty signature: enough for Azurite's basic OAuth
    check, which decodes the token without verifying it."""
    header = {"alg": "none", "typ": "JWT"}
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}."


class FakeManagedIdentityCredential:
    """Stands in for ``azure.identity.ManagedIdentityCredential``, whose token endpoint
    (IMDS / the App Service identity endpoint) exists only in Azure.

    ``get_token`` returns an unsigned access token with the claims Azure puts in a Managed
    Identity's storage token and Azurite's basic OAuth mode checks: issuer
    (``https://sts.windows.net/<tenant>/``), audience (the requested resource,
    ``https://storage.azure.com``), ``iat``/``nbf``/``exp``; plus ``oid`` and ``tid``, which
    Azurite copies into user delegation keys (``skoid``, ``sktid``).
    """

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.scopes_requested: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, claims=None, tenant_id=None, enable_cae=False, **kwargs) -> AccessToken:
        self.scopes_requested.append(scopes)
        now = int(time.time())
        expires_on = now + 3600
        token = unsigned_jwt(
            {
                "aud": scopes[0].removesuffix("/.default"),
                "iss": f"https://sts.windows.net/{TENANT_ID}/",
                "iat": now - 60,
                "nbf": now - 60,
                "exp": expires_on,
                "appid": self.client_id,
                "idtyp": "app",
                "oid": PRINCIPAL_ID,
                "sub": PRINCIPAL_ID,
                "tid": TENANT_ID,
            }
        )
        return AccessToken(token, expires_on)


@pytest.fixture
def managed_identity(monkeypatch, settings_override) -> Callable[[str], list[str]]:
    """Configure Kanta as in Azure (identity-based ``KANTA_STORAGE``) for ``blob_service_uri``,
    with ``identity.managed_identity_credential`` (and nothing else) replaced by the fake.

    Call the returned function with the blob service URI; it returns the list of client ids
    the credential factory was called with.
    """
    factory_calls: list[str] = []

    def fake_factory(client_id: str) -> FakeManagedIdentityCredential:
        factory_calls.append(client_id)
        return FakeManagedIdentityCredential(client_id)

    def configure(blob_service_uri: str) -> list[str]:
        monkeypatch.setattr(identity, "managed_identity_credential", fake_factory)
        # A fresh key cache, so keys of other tests' services do not leak in.
        monkeypatch.setattr(storage, "_delegation_keys", storage._DelegationKeyCache())
        # The session's services fixture may have set a connection string, which would win.
        settings_override(KANTA_STORAGE=None, KANTA_PUBLIC_BLOB_ENDPOINT=None,
                          KANTA_STORAGE__blobServiceUri=blob_service_uri, KANTA_STORAGE__clientId=CLIENT_ID,
                          KANTA_STORAGE__credential="managedidentity")
        return factory_calls

    return configure


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory) -> Iterator[LocalAzurite]:
    """Azurite over HTTPS (self-signed certificate) with ``--oauth basic``."""
    azurite = LocalAzurite(tmp_path_factory.mktemp("azurite-oauth"), free_port(), free_port(), oauth=True).start()
    yield azurite
    azurite.stop()


def sas_query(url: str) -> dict[str, str]:
    """The SAS of ``url`` as a dict; fails when a parameter appears more than once."""
    parsed = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True, strict_parsing=True)
    assert all(len(values) == 1 for values in parsed.values()), parsed
    return {name: values[0] for name, values in parsed.items()}


def parse_sas_time(value: str) -> dt.datetime:
    """A SAS time (``YYYY-MM-DDThh:mm:ssZ``, UTC) as an aware datetime; fails on other shapes."""
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


USER_DELEGATION_FIELDS = {"skoid", "sktid", "skt", "ske", "sks", "skv"}


def assert_user_delegation_sas(query: dict[str, str]) -> None:
    """Signed with a user delegation key of our identity for the blob service, not with an
    account key (an account-key service SAS has none of the ``sk*`` fields) and not with a
    stored access policy (``si``, which user delegation SAS may not use)."""
    assert USER_DELEGATION_FIELDS <= query.keys(), query
    assert query["sks"] == "b"
    assert query["skoid"] == PRINCIPAL_ID and query["sktid"] == TENANT_ID
    assert parse_sas_time(query["skt"]) < parse_sas_time(query["ske"])
    assert query["skv"] and query["sig"]
    assert "si" not in query


def test_managed_identity_against_azurite_oauth(azurite_oauth, managed_identity, monkeypatch):
    # TLS: the SDK's requests transport and requests.get/put below trust Azurite's self-signed
    # certificate through requests' REQUESTS_CA_BUNDLE; verification stays on.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle))
    assert azurite_oauth.blob_service_uri == f"https://127.0.0.1:{azurite_oauth.blob_port}/{AZURITE_ACCOUNT}"
    factory_calls = managed_identity(azurite_oauth.blob_service_uri)

    service = storage.get_blob_service()
    assert factory_calls == [CLIENT_ID]
    credential = service.credential
    assert isinstance(credential, FakeManagedIdentityCredential)
    assert getattr(credential, "account_key", None) is None
    # Real bearer-token requests to Azurite: create the containers, as scripts/start does.
    storage.ensure_containers()
    assert credential.scopes_requested and all(s == (STORAGE_SCOPE,) for s in credential.scopes_requested)

    # Count Get User Delegation Key requests; the calls go through to Azurite unchanged.
    key_requests: list[UserDelegationKey] = []
    fetch_key = service.get_user_delegation_key

    def counting_fetch(*args, **kwargs):
        key = fetch_key(*args, **kwargs)
        key_requests.append(key)
        return key

    monkeypatch.setattr(service, "get_user_delegation_key", counting_fetch)

    blob = f"ev-mi-{uuid.uuid4().hex[:8]}/{uuid.uuid4()}.jpg"
    now = dt.datetime.now(dt.UTC)
    upload = storage.upload_url(blob, now + dt.timedelta(minutes=15))
    upload_sas = sas_query(upload)
    assert_user_delegation_sas(upload_sas)
    assert upload_sas["sp"] == "c" and upload_sas["spr"] == "https"
    assert upload.startswith(f"{azurite_oauth.blob_service_uri}/uploads/{blob}?")

    # A browser's upload: a plain HTTP PUT with the URL and nothing else.
    data = os.urandom(2048)
    put = requests.put(upload, data=data, headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert put.status_code == 201, put.text
    assert storage.read_blob(blob) == data  # read back with the bearer-token client

    # Azurite checks a user delegation SAS's permissions like Azure does: the upload URL
    # (create + write) does not read.
    refused = requests.get(upload, timeout=10)
    assert refused.status_code == 403
    assert refused.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"

    read = storage.read_url(blob, now + dt.timedelta(hours=1))
    read_sas = sas_query(read)
    assert_user_delegation_sas(read_sas)
    assert read_sas["sp"] == "r"
    got = requests.get(read, timeout=10)
    assert got.status_code == 200 and got.content == data
    assert requests.put(read, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10).status_code == 403
    # ... and its signature: widening the permissions of a signed URL is refused.
    forged = read.replace("sp=r&", "sp=rcw&")
    assert forged != read
    refused = requests.put(forged, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert refused.status_code == 403 and refused.headers["x-ms-error-code"] == "AuthorizationFailure"
    assert storage.read_blob(blob) == data

    # One key served both URLs.
    assert len(key_requests) == 1
    assert (read_sas["skt"], read_sas["ske"]) == (upload_sas["skt"], upload_sas["ske"])

    # A URL that must outlive the key's expiry minus the renewal margin gets a new key,
    # which lasts past it; the URL works.
    key_expiry = parse_sas_time(upload_sas["ske"])
    needed_until = key_expiry - storage._DelegationKeyCache.RENEW_BEFORE + dt.timedelta(minutes=1)
    late = storage.read_url(blob, needed_until)
    late_sas = sas_query(late)
    assert len(key_requests) == 2
    assert parse_sas_time(late_sas["ske"]) >= needed_until.replace(microsecond=0)
    assert parse_sas_time(late_sas["se"]) == needed_until.replace(microsecond=0)
    assert requests.get(late, timeout=10).content == data
    # ... and is then reused.
    storage.read_url(blob, now + dt.timedelta(minutes=30))
    assert len(key_requests) == 2


def test_azurite_oauth_refuses_a_token_for_another_audience(azurite_oauth, managed_identity, monkeypatch):
    """Azurite does check the fake's tokens: one for Azure Resource Manager is refused, so the
    test above passes because the claims are right, not because anything goes."""
    from azure.core.exceptions import ClientAuthenticationError

    class ArmTokenCredential(FakeManagedIdentityCredential):
        def get_token(self, *scopes: str, **kwargs) -> AccessToken:
            return super().get_token("https://management.azure.com/.default", **kwargs)

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(azurite_oauth.ca_bundle))
    managed_identity(azurite_oauth.blob_service_uri)
    monkeypatch.setattr(identity, "managed_identity_credential", ArmTokenCredential)
    with pytest.raises(ClientAuthenticationError) as refused:
        storage.uploads_container().exists()
    assert refused.value.error_code == "AuthenticationFailed"


def fake_delegation_key(start: dt.datetime, expiry: dt.datetime) -> UserDelegationKey:
    """A key as Azure's Get User Delegation Key would return for our identity (stands in for
    Azure's key service; the value is random, so no service could verify these SAS)."""
    key = UserDelegationKey()
    key.signed_oid = PRINCIPAL_ID
    key.signed_tid = TENANT_ID
    key.signed_start = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    key.signed_expiry = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    key.signed_service = "b"
    key.signed_version = "2025-11-05"
    key.value = base64.b64encode(os.urandom(32)).decode()
    return key


@pytest.fixture
def offline_identity(managed_identity, monkeypatch):
    """Kanta configured for a (made-up) Azure account; the delegation key comes from
    ``fake_delegation_key``, so nothing goes over the network. Returns the list of
    ``(start, expiry)`` of the keys requested."""
    managed_identity("https://kantatest.blob.core.windows.net")
    service = storage.get_blob_service()
    requested: list[tuple[dt.datetime, dt.datetime]] = []

    def key_service(start: dt.datetime, expiry: dt.datetime, **kwargs) -> UserDelegationKey:
        requested.append((start, expiry))
        return fake_delegation_key(start, expiry)

    monkeypatch.setattr(service, "get_user_delegation_key", key_service)
    return requested


def test_upload_sas_grants_create_write_on_one_blob_until_our_expiry(offline_identity):
    blob = "wedding-2026/0b6f3c1e-2d4a-4f5b-8c9d-0e1f2a3b4c5d.jpg"
    # Not UTC and with microseconds: the SAS must carry the same instant, to the second, in UTC.
    cest = dt.timezone(dt.timedelta(hours=2))
    expires_at = (dt.datetime.now(cest) + dt.timedelta(minutes=15)).replace(microsecond=987654)
    before = dt.datetime.now(dt.UTC)
    url = storage.upload_url(blob, expires_at)
    after = dt.datetime.now(dt.UTC)

    parts = urllib.parse.urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "kantatest.blob.core.windows.net")
    assert parts.path == f"/uploads/{blob}"
    q = sas_query(url)
    assert q["sp"] == "c"  # create only: no overwrite, no metadata, no read, no list
    assert q["sr"] == "b"  # this one blob, not its container
    assert q["se"] == expires_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert q["se"].endswith("Z")
    start = parse_sas_time(q["st"])
    # Back-dated for clock skew, by at most 5 minutes (to the second).
    assert before.replace(microsecond=0) - dt.timedelta(minutes=5) <= start <= after
    assert q["spr"] == "https"  # the endpoint is https: the SAS works over https only
    assert q["sv"]
    assert_user_delegation_sas(q)
    assert "sip" not in q  # no IP range: guests upload from anywhere
    # The SAS ends before the key that signs it.
    assert parse_sas_time(q["ske"]) > parse_sas_time(q["se"])
    assert len(offline_identity) == 1


def test_read_sas_grants_read_only(offline_identity):
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for url, path in [
        (storage.read_url("ev-1/a.jpg", expires_at), "/uploads/ev-1/a.jpg"),
        (storage.thumbnail_url("ev-1/a/0.jpg", expires_at), "/faces/ev-1/a/0.jpg"),
    ]:
        assert urllib.parse.urlsplit(url).path == path
        q = sas_query(url)
        assert q["sp"] == "r" and q["sr"] == "b" and q["spr"] == "https"
        assert_user_delegation_sas(q)
    assert len(offline_identity) == 1  # one key for both


def test_delegation_key_lifetime_and_renewal(offline_identity):
    cache = storage._DelegationKeyCache
    now = dt.datetime.now(dt.UTC)
    storage.upload_url("ev/a.jpg", now + dt.timedelta(minutes=15))
    ((start, expiry),) = offline_identity
    # Key: from a few minutes back (clock skew) for KEY_LIFETIME.
    assert now - cache.CLOCK_SKEW - dt.timedelta(seconds=5) <= start <= now
    assert expiry - start == cache.KEY_LIFETIME + cache.CLOCK_SKEW

    # Still covered with the renewal margin: no new key.
    storage.read_url("ev/a.jpg", expiry - cache.RENEW_BEFORE)
    assert len(offline_identity) == 1
    # A second past that: a new key, long enough for the SAS plus the margin.
    needed = expiry - cache.RENEW_BEFORE + dt.timedelta(seconds=1)
    storage.read_url("ev/a.jpg", needed)
    assert len(offline_identity) == 2
    assert offline_identity[1][1] >= needed + cache.RENEW_BEFORE

    # Azure's limit: keys (hence user delegation SAS) last at most 7 days.
    with pytest.raises(ValueError):
        storage.read_url("ev/a.jpg", dt.datetime.now(dt.UTC) + dt.timedelta(days=8))


def test_connection_string_path_unchanged(managed_identity, settings_override):
    """Azurite's connection string (http): account-key SAS, no identity, no protocol pin."""
    factory_calls = managed_identity("https://unused.blob.core.windows.net")
    settings_override(KANTA_STORAGE=azurite_connection_string(10000, 10001))

    assert storage.get_blob_service().credential.account_key
    url = storage.upload_url("ev/a.jpg", dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15))
    assert url.startswith(f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}/uploads/ev/a.jpg?")
    q = sas_query(url)
    assert q["sp"] == "c" and q["sr"] == "b" and q["sig"]
    assert not USER_DELEGATION_FIELDS & q.keys()
    assert "spr" not in q
    assert factory_calls == []


def test_real_factory_builds_a_managed_identity_credential():
    # Constructing it does not contact the identity endpoint; only get_token would.
    from azure.identity import ManagedIdentityCredential

    assert isinstance(identity.managed_identity_credential(CLIENT_ID), ManagedIdentityCredential)
