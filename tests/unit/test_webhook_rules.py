"""Webhooks' pure rules: where a delivery may go (https, public addresses; http://localhost only in development and
tests) and the signature a receiver checks."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from chorus_chain.operations.webhooks import signing, urls


@pytest.mark.parametrize("url", [
    "https://erp.exemple.fr/chorus", "https://erp.exemple.fr:8443/hooks?source=chorus", "https://93.184.216.34/x",
    "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
])
def test_public_https_urls_are_taken(url):
    assert urls.check(url, allow_local=False) == url


@pytest.mark.parametrize("url, words", [
    ("http://erp.exemple.fr/chorus", "https://"),
    ("ftp://erp.exemple.fr/chorus", "https://"),
    ("https://", "https://"),
    ("", "Indiquez"),
    ("https://erp.exemple.fr/a b", "espace"),
    ("https://moi:secret@erp.exemple.fr/", "identifiant"),
    ("https://erp.exemple.fr/#x", "fragment"),
    ("https://localhost/x", "localhost"),
    ("https://api.localhost/x", "localhost"),
    ("https://127.0.0.1/x", "localhost"),
    ("https://127.0.0.2/x", "publique"),
    ("https://10.1.2.3/x", "publique"),
    ("https://192.168.0.10/x", "publique"),
    ("https://172.16.5.4/x", "publique"),
    ("https://169.254.169.254/latest/meta-data", "publique"),  # the cloud metadata service
    ("https://[::1]/x", "localhost"),
    ("https://[fd00::1]/x", "publique"),
    ("https://[::ffff:10.0.0.1]/x", "publique"),
    ("https://0.0.0.0/x", "publique"),
    ("https://224.0.0.1/x", "publique"),
    ("https://erp.exemple.fr/" + "x" * 500, "500"),
])
def test_other_urls_are_refused_in_production_with_the_reason(url, words):
    with pytest.raises(urls.UrlRefused) as refused:
        urls.check(url, allow_local=False)
    assert words in refused.value.message_fr


def test_http_localhost_only_where_local_receivers_are_allowed():
    for url in ("http://localhost:8080/x", "http://127.0.0.1:9000/x", "http://[::1]:9000/x"):
        assert urls.check(url, allow_local=True) == url
        with pytest.raises(urls.UrlRefused):
            urls.check(url, allow_local=False)
    with pytest.raises(urls.UrlRefused):
        urls.check("http://erp.exemple.fr/x", allow_local=True)  # http elsewhere: never


def test_public_addresses_refuses_a_name_pointing_inside(monkeypatch):
    monkeypatch.setattr(urls, "resolve", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(urls.UrlRefused):
        urls.public_addresses("erp.exemple.fr", 443)
    monkeypatch.setattr(urls, "resolve", lambda host, port: ["93.184.216.34"])
    assert urls.public_addresses("erp.exemple.fr", 443) == ["93.184.216.34"]


def test_the_signature_is_hmac_sha256_of_the_timestamp_dot_body():
    body = b'{"id":"evt_1"}'
    value = signing.header("whsec_abc", 1_700_000_000, body)
    expected = hmac.new(b"whsec_abc", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert value == f"t=1700000000,v1={expected}"
    assert signing.verify("whsec_abc", value, body, now=1_700_000_100)
    assert not signing.verify("whsec_abc", value, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not signing.verify("whsec_abd", value, body, now=1_700_000_000)
    assert not signing.verify("whsec_abc", value, body + b" ", now=1_700_000_000)
    assert not signing.verify("whsec_abc", "t=x,v1=00", body, now=1_700_000_000)
    assert not signing.verify("whsec_abc", "", body, now=1_700_000_000)


def test_the_secret_is_derived_from_the_application_key_and_the_seed():
    seed = signing.new_seed()
    secret = signing.secret_of("clé-a", seed)
    assert secret.startswith("whsec_") and secret == signing.secret_of("clé-a", seed)
    assert secret != signing.secret_of("clé-b", seed) and secret != signing.secret_of("clé-a", signing.new_seed())
    assert seed not in secret
