"""Real tampered copies of a signed certificate PDF, as an attacker would make them with an
ordinary PDF library (pyHanko's writer), for the verify check and outside validators."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from certificates.signing import SignerConfig, sign


def _writer(pdf: bytes) -> IncrementalPdfFileWriter:
    return IncrementalPdfFileWriter(BytesIO(pdf), strict=False)


def _written(writer: IncrementalPdfFileWriter) -> bytes:
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def paint_text(pdf: bytes, text: str = "VALID UNTIL 2099") -> bytes:
    """An incremental update that paints new text on the page, after the signature."""
    writer = _writer(pdf)
    font = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.pdf_name("/Font"): generic.DictionaryObject(  # type: ignore[no-untyped-call]
                {generic.pdf_name("/FTamper"): writer.add_object(font)}
            )
        }
    )
    content = f"BT /FTamper 28 Tf 1 0 0 rg 120 300 Td ({text}) Tj ET".encode()
    stream = writer.add_object(generic.StreamObject(stream_data=content))
    writer.add_stream_to_page(0, stream, resources=resources)  # type: ignore[no-untyped-call]
    return _written(writer)


def rewrite_keywords(pdf: bytes, serial: str) -> bytes:
    """An incremental update that makes the document's keywords name another serial."""
    writer = _writer(pdf)
    info_ref = writer.trailer.raw_get("/Info")
    info_ref.get_object()["/Keywords"] = generic.TextStringObject(f"fangxin-serial:{serial}")
    writer.mark_update(info_ref)
    return _written(writer)


def flip_byte(pdf: bytes, at: float = 1 / 3) -> bytes:
    altered = bytearray(pdf)
    altered[int(len(altered) * at)] ^= 0x01
    return bytes(altered)


def strip_signature(pdf: bytes) -> bytes:
    """The file as it was before it was signed: the signature's update cut off."""
    reader = PdfFileReader(BytesIO(pdf))
    (sig,) = reader.embedded_signatures
    end = reader.xrefs.get_startxref_for_revision(sig.signed_revision - 1)
    tail = pdf.index(b"%%EOF", end) + len(b"%%EOF")
    return pdf[:tail] + b"\n"


def resign_as(pdf: bytes, folder: Path, issuer_name: str) -> bytes:
    """The unsigned file signed again with a self-made key whose certificate carries our
    issuer's very name."""
    return sign(strip_signature(pdf), SignerConfig(folder=folder, issuer_name=issuer_name))


def damage_signature(pdf: bytes) -> bytes:
    """One hexadecimal digit of our signature value changed: the file's bytes are all as
    signed, the signature no longer verifies."""
    reader = PdfFileReader(BytesIO(pdf), strict=False)
    (sig,) = reader.embedded_signatures
    _, len1, _, _ = (int(x) for x in sig.byte_range)
    der = len(sig.pkcs7_content.rstrip(b"\0"))
    # The signature value ends the signer info, which ends the container.
    at = len1 + 1 + 2 * (der - 4)
    altered = bytearray(pdf)
    altered[at] = ord("1") if altered[at] != ord("1") else ord("2")
    return bytes(altered)


def rewrite_whole(pdf: bytes) -> bytes:
    """The file saved anew by an ordinary PDF library (pypdf), as an editor would: every
    object rewritten, the signature dictionary carried over with ranges that no longer fit."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


class LiteralBytes(generic.ByteStringObject):
    """A byte string written as a literal ``( … )`` instead of pyHanko's hexadecimal: what a
    forger needs to make pyHanko's coverage sum come out even."""

    def write_to_stream(self, stream: Any, handler: Any = None, container_ref: Any = None) -> None:
        out = bytearray(b"(")
        for byte in bytes(self):
            if byte in b"()\\":
                out += b"\\" + bytes([byte])
            elif byte == 0x0D:  # a bare CR would be read back as LF
                out += b"\\r"
            else:
                out.append(byte)
        stream.write(bytes(out) + b")")


@dataclass(frozen=True, slots=True)
class Update:
    """An incremental update (or two) appended to a signed file, as a forger composes one."""

    restate: Literal["no", "literal", "hex"] = "no"  # restate the signature dictionary
    pad: Literal["none", "pyhanko_sum", "some"] = "none"  # zero bytes added to its /Contents
    byte_range: Literal["same", "extended"] = "same"  # the restated /ByteRange
    paint: bool = False  # new text on page 1
    metadata: bool = False  # the document's keywords rewritten
    xref: Literal["stream", "table"] = "stream"  # how the update's cross-references are written
    then_metadata: bool = False  # a further, metadata-only revision after this one
    trailing: bytes = b""  # bytes after the last %%EOF

    @property
    def name(self) -> str:
        parts = [f"restate={self.restate}"] if self.restate != "no" else []
        parts += [f"pad={self.pad}"] if self.restate != "no" else []
        parts += ["byte_range=extended"] if self.byte_range == "extended" else []
        parts += [p for p, on in (("paint", self.paint), ("metadata", self.metadata)) if on]
        parts += [f"xref={self.xref}"]
        parts += ["then_metadata"] if self.then_metadata else []
        parts += [f"trailing={len(self.trailing)}B"] if self.trailing else []
        return ",".join(parts)


def _paint(writer: IncrementalPdfFileWriter, text: str) -> None:
    font = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.pdf_name("/Font"): generic.DictionaryObject(  # type: ignore[no-untyped-call]
                {generic.pdf_name("/FTamper"): writer.add_object(font)}
            )
        }
    )
    content = f"BT /FTamper 28 Tf 1 0 0 rg 120 300 Td ({text}) Tj ET".encode()
    stream = writer.add_object(generic.StreamObject(stream_data=content))
    writer.add_stream_to_page(0, stream, resources=resources)  # type: ignore[no-untyped-call]


def _keywords(writer: IncrementalPdfFileWriter, words: str) -> None:
    info_ref = writer.trailer.raw_get("/Info")
    info_ref.get_object()["/Keywords"] = generic.TextStringObject(words)
    writer.mark_update(info_ref)


def _signature(pdf: bytes) -> tuple[tuple[int, int, int, int], bytes]:
    (sig,) = PdfFileReader(BytesIO(pdf), strict=False).embedded_signatures
    start1, len1, start2, len2 = (int(x) for x in sig.byte_range)
    return (start1, len1, start2, len2), bytes(sig.sig_object.raw_get("/Contents"))


def _compose(pdf: bytes, update: Update, pad: int) -> bytes:
    (start1, len1, start2, len2), contents = _signature(pdf)
    writer = _writer(pdf)
    writer.stream_xrefs = update.xref == "stream"
    if update.restate != "no":
        (sig,) = writer.prev.embedded_signatures
        ref = sig.sig_field.raw_get("/V").reference
        sig_dict = ref.get_object()
        value = contents + b"\0" * pad
        kind = LiteralBytes if update.restate == "literal" else generic.ByteStringObject
        sig_dict["/Contents"] = kind(value)
        if update.byte_range == "extended":
            extended = [start1, len1, start2, len2 + 1024]
            sig_dict["/ByteRange"] = generic.ArrayObject(
                [generic.NumberObject(x) for x in extended]  # type: ignore[no-untyped-call]
            )
        writer.mark_update(ref)
    if update.paint:
        _paint(writer, "VALID UNTIL 2099")
    if update.metadata:
        _keywords(writer, "fangxin-serial:ZMD-2099-M-999999-X")
    out = _written(writer)
    if update.then_metadata:
        after = _writer(out)
        after.stream_xrefs = update.xref == "stream"
        _keywords(after, "edited later")
        out = _written(after)
    return out + update.trailing


def apply(pdf: bytes, update: Update) -> bytes:
    """The signed ``pdf`` with ``update`` appended. With ``pad="pyhanko_sum"`` the restated
    /Contents is padded, and blank lines added after the last %%EOF, until the file's length
    is pyHanko's sum ``len1 + len2 + 2·len(/Contents) + 2``: the vector of issue 27."""
    if update.pad == "none" or update.restate == "no":
        return _compose(pdf, update, 0)
    # Hexadecimal padding grows the file and the sum alike: it can never make them meet.
    if update.pad == "some" or update.restate == "hex":
        return _compose(pdf, update, 777)
    (_, len1, _, len2), contents = _signature(pdf)

    def short_by(pad: int, out: bytes) -> int:
        return len1 + len2 + 2 * (len(contents) + pad) + 2 - len(out)

    pad = max(0, -short_by(0, _compose(pdf, update, 0)))
    for _ in range(8):
        out = _compose(pdf, update, pad)
        missing = short_by(pad, out)
        if missing >= 0:
            return out + b"\n" * missing
        pad += -missing
    raise AssertionError("the padding did not converge")


Tamper = Callable[[bytes], bytes]


def deflate_bomb(inflated: int) -> bytes:
    """Zeros that inflate to ``inflated`` bytes, deflated to about a thousandth of that."""
    packer = zlib.compressobj(9)
    chunk = b"\0" * (1024 * 1024)
    out = [packer.compress(chunk) for _ in range(inflated // len(chunk))]
    return b"".join([*out, packer.compress(b"\0" * (inflated % len(chunk))), packer.flush()])


def inflating_attachment(pdf: bytes, inflated: int) -> bytes:
    """The unsigned file with its ``certificate.json`` swapped for one that inflates to
    ``inflated`` bytes (sign it after, with any key): the memory bomb of issue 29."""
    writer = _writer(strip_signature(pdf))
    names = writer.root["/Names"]["/EmbeddedFiles"]["/Names"]
    spec_ref = names.raw_get(1)
    spec = spec_ref.get_object()
    stream = generic.StreamObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/EmbeddedFile"),
            generic.pdf_name("/Filter"): generic.pdf_name("/FlateDecode"),
        },
        encoded_data=deflate_bomb(inflated),
    )
    spec["/EF"] = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {generic.pdf_name("/F"): writer.add_object(stream)}
    )
    writer.mark_update(spec_ref)
    return _written(writer)


def inflating_form(pdf: bytes, inflated: int) -> bytes:
    """An update that moves the form dictionary, which every check reads to find the
    signature, into an object stream padded to inflate to ``inflated`` bytes."""
    writer = _writer(pdf)
    writer.stream_xrefs = True
    form = generic.DictionaryObject(dict(writer.root["/AcroForm"]))  # type: ignore[no-untyped-call]
    # Written in hexadecimal (two bytes each): runs of zeros broken by random bytes, which
    # deflate some 20:1, under pyHanko's default guard against stacked compression (100:1).
    padding = bytearray(inflated // 2)
    padding[64::65] = os.urandom(len(padding[64::65]))
    form[generic.pdf_name("/Padding")] = generic.ByteStringObject(bytes(padding))
    objects = writer.prepare_object_stream()  # type: ignore[no-untyped-call]
    writer.root[generic.pdf_name("/AcroForm")] = writer.add_object(form, obj_stream=objects)
    writer.update_root()  # type: ignore[no-untyped-call]
    return _written(writer)
