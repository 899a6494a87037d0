"""Fill empty zh_CN entries of the catalog from scripts/zh_cn.toml (a developer tool)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "service/web/translations/zh_CN/LC_MESSAGES/messages.po"


def main() -> int:
    table = tomllib.loads((ROOT / "scripts/zh_cn.toml").read_text(encoding="utf-8"))
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        current = message.string if isinstance(message.string, str) else message.string[0]
        if current:
            continue
        if key in table:
            message.string = table[key] if isinstance(message.id, str) else (table[key],)
        else:
            missing.append(key)
    with PO.open("wb") as fh:
        write_po(fh, catalog, omit_header=True, no_location=True, sort_output=True)
    for key in missing:
        print(f"untranslated: {key}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
