"""The certificates domain as the shell composes it (``service.kernel.plugins``): issuing and
verifying certificates, their credentials and trust anchor, commitments, applications and
their public notice, the yearly review; the ``fangxin certificates`` commands; the hourly
sweep; the listener that revokes on a credit drop and the gate that keeps issuance behind an
unfinished notice; the demo's certificates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.audit import Actor
from service.kernel.i18n import N_
from service.kernel.periodic import Details, JobContext, JobSpec
from service.kernel.plugins import DemoStep, Plugin
from service.kernel.settings import Settings

if TYPE_CHECKING:
    import click
    from litestar.types import ControllerRouterHandler

HERE = Path(__file__).parent


async def sweep_certificates(ctx: JobContext) -> Details:
    from certificates import sweep
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    settings = ctx.settings
    result = await sweep.sweep(
        actor=Actor("system", "sweep"),
        policy=policy_for(settings.certificate_policy),
        credit_rules=credit_store.rules_for(settings.credit_rules),
    )
    return {
        "expired": len(result.expired),
        "revoked": len(result.revoked),
        "suspended": len(result.suspended),
        "lifted": len(result.lifted),
    }


class CertificatesPlugin(Plugin):
    name = "certificates"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from certificates.anchor import ROUTES as ANCHOR_ROUTES
        from certificates.applications.pages import PAGES as APPLICATION_PAGES
        from certificates.applications.routes import ROUTES as APPLICATION_ROUTES
        from certificates.commitments.pages import PAGES as COMMITMENT_PAGES
        from certificates.commitments.routes import ROUTES as COMMITMENT_ROUTES
        from certificates.credential_routes import ROUTES as CREDENTIAL_ROUTES
        from certificates.pages import PAGES as CERTIFICATE_PAGES
        from certificates.routes import ROUTES as CERTIFICATE_ROUTES
        from certificates.yearly_review.pages import PAGES as REVIEW_PAGES
        from certificates.yearly_review.routes import ROUTES as REVIEW_ROUTES

        return (
            *REVIEW_ROUTES,
            *APPLICATION_ROUTES,
            *COMMITMENT_ROUTES,
            *CERTIFICATE_ROUTES,
            *CREDENTIAL_ROUTES,
            *ANCHOR_ROUTES,
            *CERTIFICATE_PAGES,
            *REVIEW_PAGES,
            *APPLICATION_PAGES,
            *COMMITMENT_PAGES,
        )

    def templates(self) -> Sequence[Path]:
        return (
            HERE / "templates",
            HERE / "yearly_review" / "templates",
            HERE / "applications" / "templates",
            HERE / "commitments" / "templates",
        )

    def commands(self) -> Sequence[click.Command]:
        from certificates.cli import certificates

        return (certificates,)

    def jobs(self) -> Sequence[JobSpec]:
        return (
            JobSpec(
                "certificate_sweep",
                N_("Certificate sweep"),
                sweep_certificates,
                cron="5 * * * *",
                labels={
                    "expired": N_("expired"),
                    "revoked": N_("revoked"),
                    "suspended": N_("suspended"),
                    "lifted": N_("reinstated"),
                },
            ),
        )

    def wire(self, settings: Settings) -> None:
        from certificates import revocation
        from certificates.applications import gate
        from certificates.policy import policy_for

        # Certificates answer credit changes inside the credit transaction.
        revocation.register(policy_for(settings.certificate_policy))
        # Nothing is issued past an open or objected public notice.
        gate.register()

    def demo(self) -> Sequence[DemoStep]:
        from certificates import demo

        return (
            DemoStep("records", demo.load_commitments),
            DemoStep("derived", demo.load_certificates),
            DemoStep("derived", demo.load_application),
        )


PLUGIN = CertificatesPlugin()
