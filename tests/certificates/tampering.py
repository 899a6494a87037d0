"""Real tampered copies of a signed certificate PDF, as an attacker would make them with an
ordinary PDF library (pyHanko's writer), for the verify check and outside validators."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

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
