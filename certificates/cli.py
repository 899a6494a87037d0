"""The ``fangxin certificates`` commands: evaluate, issue, sweep, review and check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.kernel.commands import cli_actor, cli_settings, run_with_db

SUBJECT_KINDS = ["merchant", "street", "scenic_spot"]


@click.group()
def certificates() -> None:
    """Trusted-consumption certificates."""


@certificates.command("evaluate")
@click.option("--kind", type=click.Choice(SUBJECT_KINDS))
@click.option("--eligible-only", is_flag=True, help="List only the subjects that qualify.")
def certificates_evaluate(kind: str | None, eligible_only: bool) -> None:
    """Every subject against the policy: each criterion's value, requirement and result."""
    from certificates import eligibility
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    settings = cli_settings()
    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)
    found = run_with_db(settings, lambda: eligibility.evaluate_all(policy, rules))
    shown = [e for e in found if (kind is None or e.kind == kind)]
    for e in shown:
        if eligible_only and not e.eligible:
            continue
        if e.eligible:
            click.echo(f"{e.kind.value} {e.code} {e.name}: eligible")
            continue
        why = "; ".join(f"{c.key} {_shown(c.value)} (needs {c.requirement})" for c in e.failing)
        click.echo(f"{e.kind.value} {e.code} {e.name}: not eligible: {why}")
    totals = ", ".join(
        f"{k}: {sum(e.eligible for e in shown if e.kind == k)} of "
        f"{sum(1 for e in shown if e.kind == k)} eligible"
        for k in dict.fromkeys(e.kind.value for e in shown)
    )
    click.echo(f"Policy {policy.version}. {totals or 'No subjects.'}")


@certificates.command("issue")
@click.argument("subjects", nargs=-1)
@click.option("--kind", type=click.Choice(SUBJECT_KINDS), required=True)
@click.option("--all-eligible", is_flag=True, help="Every eligible subject of the kind.")
def certificates_issue(subjects: tuple[str, ...], kind: str, all_eligible: bool) -> None:
    """Issue certificates to eligible subjects (USCCs or area codes): all or none."""
    from certificates import eligibility, issuance
    from certificates.policy import Kind, policy_for
    from scoring.credit import store as credit_store

    settings = cli_settings()
    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)

    async def run() -> list[str]:
        from certificates import documents

        chosen = list(subjects)
        if all_eligible:
            found = await eligibility.evaluate_all(policy, rules)
            holding = await issuance.holders(Kind(kind))
            chosen += [
                e.code for e in found if e.kind == kind and e.eligible and e.code not in holding
            ]
        if not chosen:
            return []
        # Each PDF is rendered and signed as its certificate is issued, in a process per core.
        with click.progressbar(
            length=len(chosen), label="Issuing and signing", file=sys.stderr
        ) as bar:
            issued = await documents.issue_signed(
                [issuance.Request(Kind(kind), s) for s in dict.fromkeys(chosen)],
                settings=settings,
                actor=cli_actor(),
                policy=policy,
                credit_rules=rules,
                progress=bar.update,
            )
        return [f"{c.serial} {c.subject_code} {c.subject_name}" for c in issued]

    lines = run_with_db(settings, run)
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} certificate(s) issued.")


@certificates.command("sweep")
def certificates_sweep() -> None:
    """Expire, revoke after grace, lift recovered holds, suspend failing areas."""
    from certificates import sweep
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    settings = cli_settings()
    result = run_with_db(
        settings,
        lambda: sweep.sweep(
            actor=cli_actor(),
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        ),
    )
    click.echo(
        f"Swept: {len(result.expired)} expired, {len(result.revoked)} revoked, "
        f"{len(result.suspended)} suspended, {len(result.lifted)} reinstated."
    )


@certificates.command("review")
@click.argument("year", type=click.IntRange(2000, 2100))
@click.option("--confirm", is_flag=True, help="Confirm the draft: make its withdrawals.")
def certificates_review(year: int, confirm: bool) -> None:
    """Build (again) the draft yearly review (后评价) of YEAR and print it; with --confirm,
    confirm the draft there is as it stands, exclusions and all (one is built if none is)."""
    from certificates.policy import policy_for
    from certificates.schemas import ReviewOut
    from certificates.yearly_review import store as reviews
    from scoring.credit import store as credit_store

    settings = cli_settings()

    async def run() -> ReviewOut:
        from service.kernel.errors import NotFound

        if confirm:
            try:
                await reviews.get(year)
            except NotFound:
                pass
            else:  # officials may have excluded withdrawals from it: confirmed as it is
                return await reviews.confirm(year, actor=cli_actor())
        review = await reviews.build(
            year,
            actor=cli_actor(),
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        )
        if confirm:
            review = await reviews.confirm(year, actor=cli_actor())
        return review

    review = run_with_db(settings, run)
    for item in review.items:
        if item.section == "retained":
            continue
        why = ", ".join(item.reasons) + (
            f" (excluded: {item.excluded_note})" if item.excluded else ""
        )
        click.echo(
            f"{item.section:<9} {item.serial} {item.code} {item.name}" + (f": {why}" if why else "")
        )
    counts = ", ".join(f"{k} {v}" for k, v in review.counts.items())
    click.echo(f"Review of {year} ({review.status}): {counts}.")


@certificates.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the answer the API gives, as JSON.")
def certificates_check(file: Path, as_json: bool) -> None:
    """Check a certificate PDF offline: the verify API's very check, run here without a
    server. Exits 0 only when the file is genuine and the certificate active; 1 when it is
    genuine but no longer active; 2 for any other verdict."""
    import msgspec

    from certificates import documents, verification
    from certificates.policy import policy_for
    from certificates.schemas import PdfCheck, Verdict
    from certificates.signing import InflatesTooMuch

    settings = cli_settings()
    config = documents.signer_config(settings, policy_for(settings.certificate_policy))
    content = file.read_bytes()

    async def checked() -> PdfCheck | None:
        try:
            return await verification.check_pdf(content, config)
        except InflatesTooMuch as exc:  # refused unread: like any verdict but genuine, 2
            click.echo(f"{file}: {exc.detail}", err=True)
            return None

    result = run_with_db(settings, checked)
    if result is None:
        sys.exit(2)
    if as_json:
        click.echo(msgspec.json.encode(result).decode())
    else:
        click.echo(f"{file}: {result.verdict.value}")
        for name in ("signature_valid", "issued_by_us", "unaltered", "matches_register"):
            click.echo(f"  {name}: {'yes' if getattr(result, name) else 'no'}")
        if result.signed_serial:
            click.echo(f"  signed as: {result.signed_serial}")
        if result.status is not None:
            click.echo(f"  status: {result.status.value}")
        click.echo(f"  {result.detail}")
    if result.verdict != Verdict.GENUINE:
        sys.exit(2)
    if result.status is None or result.status.value != "active":
        sys.exit(1)


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
