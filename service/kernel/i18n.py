"""Translations: gettext catalogs (Babel .po files) for Simplified Chinese and English.

Source strings are English; ``zh_CN`` is the default locale shown to the public. Catalogs
are compiled in memory at start-up, so no build step produces binary .mo files.
"""

from __future__ import annotations

import gettext as gettext_module
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

DEFAULT_LOCALE = "zh_CN"
LOCALES = ("zh_CN", "en")
LOCALE_COOKIE = "lang"
# The catalogs are data of the shell's web folder, read here as files (no import).
CATALOG_DIRS = [Path(__file__).parents[1] / "web" / "translations"]

_current: ContextVar[str] = ContextVar("fangxin_locale", default=DEFAULT_LOCALE)


def normalise(value: str | None) -> str | None:
    """Map a user's choice (``en``, ``zh``, ``zh-CN``, …) to a supported locale, or None."""
    if not value:
        return None
    v = value.strip().replace("-", "_").lower()
    if v.startswith("zh"):
        return "zh_CN"
    if v.startswith("en"):
        return "en"
    return None


@cache
def translations(locale: str) -> gettext_module.NullTranslations:
    result: gettext_module.NullTranslations = gettext_module.NullTranslations()
    for directory in CATALOG_DIRS:
        po = directory / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buf = BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        t = Translations(fp=buf)
        if isinstance(result, Translations):
            result.merge(t)
        else:
            result = t
    return result


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


def current_locale() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


# Scope-state flag: this request chose a language (?lang=). Such a request, a plain link any
# site may point at, must change nothing but the language cookie.
LANGUAGE_SWITCH: Final[str] = "fangxin_language_switch"
