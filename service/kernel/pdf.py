"""WeasyPrint for every PDF we make, under a URL fetcher that refuses the network.

A poster is pasted on a wall and a certificate is handed to a merchant: neither may depend
on, or leak requests to, any other machine, so everything they need is inline.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
# (weasyprint.HTML, weasyprint.Attachment, a refusing fetcher, FatalURLFetchingError);
# WeasyPrint ships no types.
_parts: tuple[Any, Any, Any, type[BaseException]] | None = None


class NetworkFetchRefused(RuntimeError):
    """A document tried to load a resource; everything it needs must be inline."""


def weasyprint() -> tuple[Any, Any, Any, type[BaseException]]:
    """WeasyPrint's pieces, imported on first use: the import alone costs ~0.5-0.9 s."""
    global _parts
    if _parts is None:
        with _lock:
            if _parts is None:
                from weasyprint import HTML, Attachment  # type: ignore[import-untyped]
                from weasyprint.urls import (  # type: ignore[import-untyped]
                    FatalURLFetchingError,
                    URLFetcher,
                )

                class _RefuseAll(URLFetcher):  # type: ignore[misc]
                    def fetch(self, url: str, headers: object = None) -> Any:
                        raise NetworkFetchRefused(f"a PDF tried to fetch {url[:100]!r}")

                # fail_on_errors: a silently missing image would print a useless document.
                # The fetcher keeps no state when it refuses, so one instance serves all threads.
                _parts = (HTML, Attachment, _RefuseAll(fail_on_errors=True), FatalURLFetchingError)
    return _parts


def render(html: str, **options: Any) -> bytes:
    """The PDF of ``html`` (blocking: run it off the event loop)."""
    html_class, _, fetcher, fatal_fetch_error = weasyprint()
    try:
        pdf: bytes = html_class(string=html, url_fetcher=fetcher).write_pdf(**options)
    except fatal_fetch_error as exc:
        # A BaseException in WeasyPrint: callers' `except Exception` would not see it.
        raise NetworkFetchRefused(str(exc)) from exc.__cause__
    return pdf
