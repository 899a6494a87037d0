"""Issue 27: the verify check judges the bytes. Forgeries made of incremental updates — a
named table of them and generated combinations — are never "genuine", whatever pyHanko's
coverage summary says; whenever poppler's pdfsig reports "Not total document signed", our
verdict is not genuine either. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certificates import coverage, signing
from certificates.coverage import SignedObject
from certificates.models import Status
from certificates.policy import Kind
from certificates.schemas import PdfCheck, Verdict
from certificates.signing import SignatureCheck, SignerConfig
from certificates.verification import verdict_from
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.certificates import tampering
from tests.certificates.tampering import Update
from tests.certificates.test_cascade import _certificate
from tests.certificates.test_forgery import _upload
from tests.certificates.test_tampering import _nss_trusting, _pdfsig, _pyhanko
from tests.helpers import make_token
from tests.surveys.conftest import make_city
from tests.surveys.test_form import _hidden

ACTIVE = "ZMD-2026-M-000001-O"
REVOKED = "ZMD-2026-M-000002-M"
FANGXIN = Path(sys.executable).parent / "fangxin"
NOT_TOTAL = "Not total document signed"

# The vector of issue 27, and the same trick with every variation a forger has.
ATTACK = Update(restate="literal", pad="pyhanko_sum", paint=True)
UPDATES = [
    ATTACK,
    Update(restate="literal", pad="pyhanko_sum", paint=True, xref="table"),
    Update(restate="literal", pad="pyhanko_sum", metadata=True),
    Update(restate="literal", pad="pyhanko_sum", paint=True, then_metadata=True),
    Update(restate="literal", pad="none", paint=True),
    Update(restate="literal", pad="some", paint=True, xref="table"),
    Update(restate="hex", pad="some", paint=True),
    Update(restate="hex", pad="none"),
    Update(restate="literal", pad="pyhanko_sum", byte_range="extended", paint=True),
    Update(restate="hex", byte_range="extended", xref="table"),
    Update(paint=True),
    Update(paint=True, xref="table"),
    Update(metadata=True),
    Update(metadata=True, xref="table"),
    Update(trailing=b"\n"),
    Update(trailing=b"% a comment\n"),
]
OTHERS: dict[str, Callable[[bytes], bytes]] = {
    "flipped byte in the signed part": tampering.flip_byte,
    "damaged signature value": tampering.damage_signature,
    "rewritten whole by pypdf": tampering.rewrite_whole,
}


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> Iterator[None]:
    # pyHanko logs a traceback for every self-signed signer it is asked about: noise here.
    logger = logging.getLogger("pyhanko")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def _vectors(genuine: bytes) -> dict[str, bytes]:
    made = {u.name: tampering.apply(genuine, u) for u in UPDATES}
    made.update({name: fn(genuine) for name, fn in OTHERS.items()})
    return made


async def test_incremental_update_forgeries_are_never_genuine_and_pdfsig_agrees(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", ACTIVE, now)
    await _certificate(Kind.MERCHANT, city.other_merchant, "天中超市", REVOKED, now)
    files = {
        s: (await client.get(f"/api/v1/certificates/{s}/pdf")).content for s in (ACTIVE, REVOKED)
    }
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    revoked = await client.post(
        f"/api/v1/certificates/{REVOKED}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert revoked.status_code == 200
    anchor = tmp_path / "issuer.pem"
    anchor.write_bytes((await client.get("/trust/issuer.pem")).content)
    nss = _nss_trusting(anchor, tmp_path / "nss")

    for serial, status in ((ACTIVE, "active"), (REVOKED, "revoked")):
        genuine = files[serial]
        control = await _upload(client, genuine)
        assert control["verdict"] == "genuine" and control["status"] == status
        (tmp_path / "genuine.pdf").write_bytes(genuine)
        assert "Total document signed" in _pdfsig(tmp_path / "genuine.pdf", nss)

        # pyHanko writes and signs with an event loop of its own: off this one.
        vectors = await anyio.to_thread.run_sync(_vectors, genuine)
        for name, pdf in vectors.items():
            path = tmp_path / "vector.pdf"
            path.write_bytes(pdf)
            ours, pdfsig = await _upload(client, pdf), _pdfsig(path, nss)
            assert ours["verdict"] != "genuine", (serial, name, ours)
            assert ours["serial"] is None and ours["status"] is None, (serial, name)
            assert not (ours["unaltered"] and ours["signature_valid"]), (serial, name)
            if NOT_TOTAL in pdfsig:
                assert ours["verdict"] != "genuine", (serial, name)
            expected = "damaged" if name == "damaged signature value" else "altered"
            assert ours["verdict"] == expected, (serial, name, ours)
            # An incremental update leaves the signed part intact: it is named, and only then.
            intact = name not in OTHERS and "byte_range=extended" not in name
            assert (ours["signed_serial"] == serial) is intact, (serial, name, ours)

    # The vector of the issue fools pyHanko's own command line: why the README names pdfsig
    # and `fangxin certificates check` as the offline checks instead.
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(await anyio.to_thread.run_sync(tampering.apply, files[ACTIVE], ATTACK))
    assert _pyhanko(forged, anchor).endswith(":VALID")
    assert NOT_TOTAL in _pdfsig(forged, nss)
    assert (await _upload(client, forged.read_bytes()))["verdict"] == "altered"


async def test_the_offline_command_gives_the_api_answer_and_an_exit_code(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", ACTIVE, datetime.now(UTC))
    genuine = (await client.get(f"/api/v1/certificates/{ACTIVE}/pdf")).content
    forged = await anyio.to_thread.run_sync(tampering.apply, genuine, ATTACK)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    environ |= {
        "FANGXIN_DATA_DIR": str(app_settings.data_dir),
        "FANGXIN_DATABASE_URL": app_settings.database_url,
        "FANGXIN_ENV": "test",
    }

    def check(pdf: bytes, *flags: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "c.pdf"
        path.write_bytes(pdf)
        command = [str(FANGXIN), "certificates", "check", *flags, str(path)]
        return subprocess.run(
            command, capture_output=True, text=True, env=environ, timeout=120, check=False
        )

    done = await anyio.to_thread.run_sync(partial(check, genuine, "--json"))
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == (
            await client.post(
                "/api/v1/certificates/verify", files={"file": ("c.pdf", genuine, "application/pdf")}
            )
        ).text
    )
    done = await anyio.to_thread.run_sync(check, forged)
    assert done.returncode == 2 and ": altered" in done.stdout and "unaltered: no" in done.stdout
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{ACTIVE}/suspend",
        json={"reason": "mystery_shopping", "note": "暗访"},
        headers=official,
    )
    assert r.status_code == 200, r.text
    done = await anyio.to_thread.run_sync(check, genuine)
    assert done.returncode == 1 and "status: suspended" in done.stdout


async def test_damage_and_a_rewrite_are_worded_as_what_they_are(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", ACTIVE, datetime.now(UTC))
    genuine = (await client.get(f"/api/v1/certificates/{ACTIVE}/pdf")).content
    form = await client.get("/verify/upload", headers={"accept": "text/html"})
    token = _hidden(form.text, "_csrf_token")

    async def page(pdf: bytes) -> str:
        r = await client.post(
            "/verify/upload",
            files={"file": ("c.pdf", pdf, "application/pdf")},
            data={"_csrf_token": token},
            headers={"accept": "text/html"},
        )
        assert r.status_code == 200
        return r.text

    damaged = await page(tampering.damage_signature(genuine))
    assert "签章已损坏" in damaged
    assert "不是本局签章" not in damaged and "其他密钥" not in damaged
    rewritten = await page(await anyio.to_thread.run_sync(tampering.rewrite_whole, genuine))
    assert "签章后整个文件被重写过" in rewritten
    assert "?" not in rewritten.split('id="verdict"')[1].split("</div>")[0]
    assert ACTIVE not in rewritten


# -- the rules themselves, without a database ------------------------------------------------


def _signed_pdf(folder: Path) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf = HTML(string="<p>放心消费 test</p>").write_pdf()
    return signing.sign(pdf, SignerConfig(folder=folder, issuer_name="测试"))


class Signed:
    """A small signed PDF and its key, short in print: hypothesis prints its arguments."""

    def __init__(self, pdf: bytes, config: SignerConfig) -> None:
        self.pdf, self.config = pdf, config

    def __repr__(self) -> str:
        return f"Signed({len(self.pdf)} bytes)"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Signed:
    folder = tmp_path_factory.mktemp("key")
    return Signed(_signed_pdf(folder), SignerConfig(folder=folder, issuer_name="测试"))


updates = st.builds(
    Update,
    restate=st.sampled_from(["no", "literal", "hex"]),
    pad=st.sampled_from(["none", "pyhanko_sum", "some"]),
    byte_range=st.sampled_from(["same", "extended"]),
    paint=st.booleans(),
    metadata=st.booleans(),
    xref=st.sampled_from(["stream", "table"]),
    then_metadata=st.booleans(),
    trailing=st.sampled_from([b"", b"\n", b"\r\n", b" ", b"%%EOF\n"]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(update=updates)
def test_no_generated_update_is_judged_to_cover_the_whole_file(
    signed: Signed, tmp_path: Path, update: Update
) -> None:
    pdf, config = signed.pdf, signed.config
    assert signing.check(pdf, config).whole_file
    forged = tampering.apply(pdf, update)
    assume(forged != pdf)  # an update that adds nothing is the genuine file
    found = signing.check(forged, config)
    # Some updates leave a file pyHanko cannot read at all (junk after the last %%EOF): not
    # a PDF to us either. Whatever it is, it is never a whole-file signature.
    assert not found.whole_file, update.name
    path = tmp_path / "forged.pdf"
    path.write_bytes(forged)
    pdfsig = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    if NOT_TOTAL in pdfsig.stdout:
        assert not (found.intact and found.whole_file), update.name


def _where(**changes: int | None) -> SignedObject:
    fields: dict[str, int | None] = {
        "number": 7,
        "generation": 0,
        "offset": 10,
        "introduced_in": 1,
        "last_changed_in": 1,
        "revisions": 2,
    }
    fields.update(changes)
    return SignedObject(**fields)  # type: ignore[arg-type]


# A tiny stand-in for a signed file: bytes 10.. hold object 7 whose /Contents is the gap.
HEAD = b"%PDF-1.7\n\n7 0 obj\n<< /Type /Sig /Contents "
TAIL = b" /ByteRange [0 0 0 0] >>\nendobj\ntrailer\n%%EOF\n"


def _file(gap: bytes, tail: bytes = TAIL) -> tuple[bytes, list[int]]:
    pdf = HEAD + gap + tail
    return pdf, [0, len(HEAD), len(HEAD) + len(gap), len(tail)]


@pytest.mark.parametrize(
    ("gap", "tail", "where", "contents", "whole"),
    [
        pytest.param(b"<0a0B 00>", TAIL, _where(), b"\x0a\x0b\x00", True, id="hex, spaces"),
        pytest.param(b"(\x0a\x0b)", TAIL, _where(), b"\x0a\x0b", False, id="a literal string"),
        pytest.param(b"<0a0b>x", TAIL, _where(), b"\x0a\x0b", False, id="more than the string"),
        pytest.param(b"<0a0>", TAIL, _where(), b"\x0a\x00", False, id="odd digits"),
        pytest.param(b"<0a0b>", TAIL, _where(), b"\x0a\x0c", False, id="another container"),
        pytest.param(
            b"<0a0b>", TAIL, _where(revisions=3), b"\x0a\x0b", False, id="a revision after"
        ),
        pytest.param(b"<0a0b>", TAIL, _where(introduced_in=0), b"\x0a\x0b", False, id="restated"),
        pytest.param(b"<0a0b>", TAIL, _where(offset=None), b"\x0a\x0b", False, id="object stream"),
        pytest.param(b"<0a0b>", TAIL, _where(number=8), b"\x0a\x0b", False, id="another object"),
    ],
)
def test_whole_file_coverage_is_decided_from_the_bytes(
    gap: bytes, tail: bytes, where: SignedObject, contents: bytes, whole: bool
) -> None:
    pdf, byte_range = _file(gap, tail)
    assert coverage.whole_file(pdf, byte_range, contents, where).whole_file is whole


def test_byte_ranges_that_leave_anything_unsigned_are_refused() -> None:
    pdf, (s1, l1, s2, l2) = _file(b"<0a0b>")
    where, contents = _where(), b"\x0a\x0b"
    assert coverage.whole_file(pdf, [s1, l1, s2, l2], contents, where).whole_file
    for byte_range in (
        [1, l1 - 1, s2, l2],  # the first byte unsigned
        [s1, l1, s2, l2 - 1],  # the last byte unsigned
        [s1, l1, s2, l2 + 1],  # past the end
        [s1, l1 - 1, s2, l2],  # the gap wider than the string
        [s1, l1, s2],  # three numbers
        [s1, l1, s2, -l2],
        [s1, True, s2, l2],
    ):
        found = coverage.whole_file(pdf + b"", byte_range, contents, where)
        assert not found.whole_file and found.reason, byte_range
    # Appended bytes, however few.
    assert not coverage.whole_file(pdf + b"\n", [s1, l1, s2, l2], contents, where).whole_file


@pytest.mark.parametrize("fields", [tuple(bool(i >> b & 1) for b in range(6)) for i in range(64)])
def test_genuine_only_beside_every_check_passed(fields: tuple[bool, ...]) -> None:
    valid, ours, intact, whole, matches, pdf = fields
    sig = SignatureCheck(pdf, True, valid, ours and valid, intact, whole)
    signature_valid, unaltered = valid and intact, ours and valid and intact and whole
    verdict = verdict_from(
        sig, signature_valid=signature_valid, unaltered=unaltered, matches_register=matches
    )
    assert (verdict == Verdict.GENUINE) is (pdf and valid and ours and intact and whole and matches)
    vouched = verdict == Verdict.GENUINE
    made = PdfCheck(
        serial=ACTIVE if vouched else None,
        signature_valid=signature_valid,
        issued_by_us=sig.ours,
        unaltered=unaltered,
        matches_register=matches,
        status=Status.ACTIVE if vouched else None,
        verdict=verdict,
        signed_serial=None,
        detail="",
    )
    assert made.verdict == verdict


def test_a_genuine_answer_beside_a_failed_check_cannot_be_made() -> None:
    for failed in ("signature_valid", "issued_by_us", "unaltered", "matches_register"):
        fields = dict.fromkeys(("signature_valid", "issued_by_us", "unaltered"), True)
        fields["matches_register"] = True
        fields[failed] = False
        with pytest.raises(ValueError, match="genuine"):
            PdfCheck(
                serial=ACTIVE,
                status=Status.ACTIVE,
                verdict=Verdict.GENUINE,
                signed_serial=ACTIVE,
                detail="",
                **fields,
            )
    with pytest.raises(ValueError, match="not genuine"):
        PdfCheck(
            serial=ACTIVE,
            signature_valid=True,
            issued_by_us=True,
            unaltered=False,
            matches_register=True,
            status=None,
            verdict=Verdict.ALTERED,
            signed_serial=ACTIVE,
            detail="",
        )


def test_the_signed_file_in_memory_is_what_pdfsig_reads(signed: Signed, tmp_path: Path) -> None:
    # The generated tests stand on this: the small signed file is a whole-file signature to
    # pdfsig too, so its "Not total" lines come from the updates alone.
    pdf = signed.pdf
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert "Total document signed" in out.stdout and NOT_TOTAL not in out.stdout
