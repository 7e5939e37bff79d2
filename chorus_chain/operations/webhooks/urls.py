"""Where a webhook may be delivered (pure but for `resolve`): an https URL of the public Internet.

Why so strict: the delivery job makes requests from inside our network. An address of our own network — loopback,
private ranges, link-local (the cloud metadata service at 169.254.169.254) — would let a client make our server call
its neighbours (server-side request forgery). So in production every address the host name resolves to must be
public, checked when the subscription is made and again at each delivery (a name may be re-pointed), and the job
connects to the address it checked (`jobs.webhooks`). In development and in the tests, http://localhost (and
127.0.0.1, [::1]) is allowed, so that a receiver can run beside the application.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

URL_MAX = 500
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


class UrlRefused(Exception):
    def __init__(self, message_fr: str) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check(url: str, *, allow_local: bool) -> str:
    """The URL as stored, or UrlRefused with the French reason. `allow_local`: development and tests."""
    url = (url or "").strip()
    if not url:
        raise UrlRefused("Indiquez l'adresse (https://…) à laquelle envoyer les événements.")
    if len(url) > URL_MAX:
        raise UrlRefused(f"L'adresse tient en {URL_MAX} caractères au plus.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UrlRefused("L'adresse ne peut contenir ni espace ni caractère de contrôle.")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise UrlRefused("Cette adresse n'est pas une URL valide.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise UrlRefused("L'adresse doit commencer par https:// et nommer un serveur.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("L'adresse ne peut pas contenir d'identifiant ni de mot de passe : le secret de "
                         "l'abonnement signe chaque envoi.")
    if parts.fragment:
        raise UrlRefused("L'adresse ne peut pas contenir de fragment (#…).")
    local = host.lower() in LOCAL_NAMES
    if parts.scheme == "http" and not (allow_local and local):
        raise UrlRefused("L'adresse doit être en https:// (le http n'est accepté que pour localhost, en "
                         "développement).")
    if port == 0:
        raise UrlRefused("Cette adresse n'est pas une URL valide.")
    if not allow_local:
        if local or host.lower().endswith(".localhost"):
            raise UrlRefused("L'adresse doit être celle d'un serveur joignable sur Internet, pas localhost.")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not is_public(host):
            raise UrlRefused("L'adresse doit être publique : les adresses privées, locales ou réservées sont "
                             "refusées.")
    return url


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (network: used by the subscription's check and by the job)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def public_addresses(host: str, port: int) -> list[str]:
    """The addresses of `host`, all public, or UrlRefused (production: a name that points, even partly, into a
    private network is refused)."""
    try:
        addresses = resolve(host, port)
    except OSError:
        raise UrlRefused("Ce nom de serveur ne se résout pas : vérifiez l'adresse.") from None
    if not addresses or not all(is_public(a) for a in addresses):
        raise UrlRefused("L'adresse doit être publique : ce nom de serveur mène à une adresse privée, locale ou "
                         "réservée.")
    return addresses


def target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a stored URL."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port, path
