"""Certificate PDFs: rendered and signed once, when the certificate is issued, kept by content
hash and served from the store. A certificate that is no longer active never gets a newly
signed PDF: the city's key must not vouch for a file after its certificate was withdrawn."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import anyio

from certificates import issuance
from certificates.commitments import store as commitments
from certificates.commitments.store import printed
from certificates.models import Certificate, Status
from certificates.policy import Policy
from certificates.render import CertificateDoc, certificate_pdf
from certificates.signing import SignerConfig, ensure_key, fingerprint, issuing_key, sign
from scoring.credit.rules import Rules
from service.kernel.audit import Actor
from service.kernel.disk import write_atomically
from service.kernel.errors import FangxinError
from service.kernel.localtime import localdate
from service.kernel.models import Area, Merchant
from service.kernel.settings import Settings

SMALL_BATCH = 2  # at most this many are signed in a thread; more in a process pool


class NoPdf(FangxinError):
    status = 410
    title = "No PDF"


def signer_config(settings: Settings, policy: Policy) -> SignerConfig:
    return SignerConfig(
        folder=settings.data_dir / "signing",
        issuer_name=policy.issuer_zh,
        p12=settings.signing_p12,
        p12_password=settings.signing_p12_password,
    )


def verify_url(settings: Settings, serial: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{serial}"


def _path(settings: Settings, sha256: str) -> Path:
    return settings.pdf_dir / sha256[:2] / f"{sha256}.pdf"


def _render_and_sign(doc: CertificateDoc, config: SignerConfig) -> bytes:
    return sign(certificate_pdf(doc), config)


async def _doc(cert: Certificate, settings: Settings, policy: Policy) -> CertificateDoc:
    address = ""
    promised: tuple[str, ...] = ()
    if cert.kind.value == "merchant":
        merchant = await Merchant.get_or_none(uscc=cert.subject_code)
        address = merchant.address if merchant else ""
        in_force = await commitments.in_force(cert.subject_code)
        promised = tuple(printed(c) for c in in_force)
    title_zh, title_en = policy.title(cert.kind)
    return CertificateDoc(
        serial=cert.serial,
        kind=cert.kind.value,
        title_zh=title_zh,
        title_en=title_en,
        subject_name=cert.subject_name,
        subject_code=cert.subject_code,
        address=address,
        issuer_zh=policy.issuer_zh,
        issuer_en=policy.issuer_en,
        policy_version=cert.policy_version,
        # The Beijing day, printed and attached alike: issued at 07:30 there is not the
        # previous (UTC) day.
        issued_at=localdate(cert.issued_at),
        valid_from=localdate(cert.valid_from),
        valid_until=localdate(cert.valid_until),
        verify_url=verify_url(settings, cert.serial),
        demo=cert.is_demo,
        issuer_fingerprint=fingerprint(issuing_key(signer_config(settings, policy)).certificate),
        commitments=promised,
    )


async def _keep(cert: Certificate, settings: Settings, signed: bytes) -> bytes:
    """Store the signed file by its hash and record it, while the certificate is still active;
    if another render was recorded first, that one stands (each signature carries its own
    time, so the two files differ). A file signed while its certificate was being withdrawn
    is thrown away, never handed out."""
    sha256 = hashlib.sha256(signed).hexdigest()
    path = _path(settings, sha256)
    # Whole or not at all: a PDF cut short by a full disk must never be stored (nor served).
    write_atomically(path, signed, f"the signed PDF of {cert.serial}")
    won = await Certificate.filter(id=cert.id, pdf_sha256=None, status=Status.ACTIVE).update(
        pdf_sha256=sha256
    )
    if not won:
        await cert.refresh_from_db(fields=["pdf_sha256", "status"])
        if cert.pdf_sha256 != sha256:
            path.unlink(missing_ok=True)
        if not cert.pdf_sha256:
            raise NoPdf(f"{cert.serial} is {cert.status.value}: no PDF is signed for it")
        return _path(settings, cert.pdf_sha256).read_bytes()
    cert.pdf_sha256 = sha256
    return signed


async def _signable(cert: Certificate) -> bool:
    return (await issuance.status_at(cert)).status == Status.ACTIVE


def _render_batch(jobs: list[tuple[CertificateDoc, SignerConfig]]) -> list[bytes]:
    return [_render_and_sign(doc, config) for doc, config in jobs]


async def render_all(
    certs: list[Certificate],
    settings: Settings,
    policy: Policy,
    *,
    progress: Callable[[int], None] | None = None,
    chunk: int = 8,
) -> int:
    """Render and sign every active certificate without a stored PDF, in a pool of one process
    per core (WeasyPrint is imported once in each), or in a thread for one or two;
    ``progress`` hears how many are done."""
    todo = [c for c in certs if not c.pdf_sha256 and await _signable(c)]
    if not todo:
        return 0
    config = signer_config(settings, policy)
    if config.p12 is None:  # created here, before the workers could race to create it
        ensure_key(config.folder, config.issuer_name)
    docs = [(await _doc(c, settings, policy), config) for c in todo]
    if len(docs) <= SMALL_BATCH:
        for cert, (doc, _) in zip(todo, docs, strict=True):
            signed = await anyio.to_thread.run_sync(_render_and_sign, doc, config)
            with contextlib.suppress(NoPdf):  # withdrawn meanwhile: nothing to hand out
                await _keep(cert, settings, signed)
            if progress:
                progress(1)
        return len(docs)
    batches = [docs[i : i + chunk] for i in range(0, len(docs), chunk)]
    done = 0
    # spawn: a fork of a process running an event loop and database threads is not safe.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=context) as pool:
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(pool, _render_batch, b) for b in batches]
        offset = 0
        for batch, future in zip(batches, futures, strict=True):
            for cert, signed in zip(todo[offset : offset + len(batch)], await future, strict=True):
                with contextlib.suppress(NoPdf):  # withdrawn meanwhile: nothing to hand out
                    await _keep(cert, settings, signed)
            offset += len(batch)
            done += len(batch)
            if progress:
                progress(len(batch))
    return done


async def issue_signed(
    requests: list[issuance.Request],
    *,
    settings: Settings,
    policy: Policy,
    credit_rules: Rules,
    actor: Actor,
    progress: Callable[[int], None] | None = None,
    is_demo: bool = False,
    district: Area | None = None,
) -> list[Certificate]:
    """Issue, then render and sign each new certificate's PDF at once, while it is active."""
    issued = await issuance.issue(
        requests,
        actor=actor,
        policy=policy,
        credit_rules=credit_rules,
        is_demo=is_demo,
        district=district,
    )
    await render_all(issued, settings, policy, progress=progress)
    return issued


async def pdf_of(cert: Certificate, settings: Settings, policy: Policy) -> bytes:
    """The certificate's signed PDF from the store. One issued before PDFs were signed at
    issue, or whose signing was interrupted, is signed now if it is still active; for any
    other there is no PDF (410)."""
    if cert.pdf_sha256:
        path = _path(settings, cert.pdf_sha256)
        if path.exists():
            return path.read_bytes()
    if not await _signable(cert):
        raise NoPdf(f"{cert.serial} is no longer active: no PDF is signed for it")
    if cert.pdf_sha256:  # lost from the store (a machine restored without it): signed anew
        await Certificate.filter(id=cert.id, pdf_sha256=cert.pdf_sha256).update(pdf_sha256=None)
        cert.pdf_sha256 = None
    doc = await _doc(cert, settings, policy)
    signed = await anyio.to_thread.run_sync(_render_and_sign, doc, signer_config(settings, policy))
    return await _keep(cert, settings, signed)
