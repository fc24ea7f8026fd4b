"""Demo data for the embedded default: a court, records of each category, and the
service timeline of a stamped judgment. Every file here is invented."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from demo.builders import judgment_pdf, record_file, serve, verify_upload
from documents import codes, ledger, registration, service
from documents.models import Court, CourtToken, Record, ServiceEvent
from verification import certificate

COURT_CODE = "DEMO0105"


@dataclass
class Seeded:
    court: Court
    token: str | None
    admin_password: str | None
    records: list[Record]
    service_link: str | None
    certificate_url: str | None = None


def seed() -> Seeded:
    """Create the demo data once; later calls return what exists."""
    court = Court.objects.filter(code=COURT_CODE).first()
    if court is not None:
        records = list(court.records.order_by("recorded_at"))
        judgment = next((r for r in records if r.stamped), None)
        addressee = judgment.addressees.first() if judgment else None
        link = service.service_link(addressee) if addressee else None
        return Seeded(court, None, None, records, link, certify(judgment) if judgment else None)

    court = Court.objects.create(
        code=COURT_CODE, name_zh="示例市示范区人民法院", name_en="Demo District People's Court"
    )
    _, token = CourtToken.issue(court, "demo")
    password = None
    User = get_user_model()
    if not User.objects.filter(username="admin").exists():
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", password=password)

    case = "（2026）示0105民初1024号"
    judgment = record_file(
        court,
        Record.Category.LITIGATION_DOCUMENT,
        "民事判决书 Civil judgment",
        judgment_pdf(
            court,
            case,
            "民事判决书",
            [
                "原告张三与被告李四买卖合同纠纷一案，本院于2026年9月1日立案后，依法适用简易程序，"
                "公开开庭进行了审理。本案现已审理终结。",
                "判决如下：被告李四于本判决生效之日起十日内支付原告张三货款人民币五万元。",
            ],
        ),
        "judgment.pdf",
        case_number=case,
        parties=["张三", "李四"],
        stamp=True,
        allow_download=True,
    )
    serve(judgment, "李四", contact="138****0000")
    # A second addressee who has not opened it yet, to try the personal link.
    pending = service.record_event(
        judgment,
        ServiceEvent.Event.SENT,
        channel="email",
        addressee_name="张三",
        contact="zhang.san@example.com",
    )
    ledger.await_ledger(pending)
    assert pending.addressee is not None  # a "sent" event names its addressee

    evidence = record_file(
        court,
        Record.Category.EVIDENCE,
        "聊天记录截图 Chat log export",
        "2026-08-01 10:02 李四：货已收到，月底前付款。\n".encode(),
        "chat-log.txt",
        case_number=case,
        parties=["张三"],
        allow_download=True,
    )
    mediation = record_file(
        court,
        Record.Category.MEDIATION,
        "调解协议 Mediation agreement",
        judgment_pdf(
            court,
            "（2026）示0105民诉前调2048号",
            "调解协议书",
            [
                "双方自愿达成如下协议：赵六于2026年12月31日前向王五支付人民币三万元。",
            ],
        ),
        "mediation.pdf",
        case_number="（2026）示0105民诉前调2048号",
        parties=["王五", "赵六"],
    )
    return Seeded(
        court,
        token,
        password,
        [judgment, evidence, mediation],
        service.service_link(pending.addressee),
        certify(judgment),
    )


def certify(judgment: Record) -> str:
    """The address of a certificate for the served judgment, verified by its file once.

    The first certificate of a deployment also cuts its font subset (some 15 s), so
    `make run` pays for it here rather than the first visitor.
    """
    done = judgment.verifications.filter(certificate__isnull=False).first()
    if done is None:
        done = verify_upload(judgment.file.open("rb").read(), "judgment.pdf")
    return certificate.url(certificate.issue(done).number)


def describe(seeded: Seeded, base_url: str) -> str:
    """What `make run` prints about the demo data."""
    lines = [f"Demo court {seeded.court.code}: {seeded.court.name_zh} / {seeded.court.name_en}"]
    if seeded.token:
        lines.append(f"  court API token (shown once): {seeded.token}")
    if seeded.admin_password:
        lines.append(f"  admin: {base_url}/admin/  user admin, password {seeded.admin_password}")
    for record in seeded.records:
        line = f"  {codes.display(record.code)}  {record.category:<20} {record.title}"
        lines.append(line)
        lines.append(f"      {registration.verification_url(record.code)}")
        if record.stamped:
            lines.append(f"      stamped PDF: {record.file.path}")
    if seeded.service_link:
        lines.append(f"  personal service link of an addressee: {seeded.service_link}")
    if seeded.certificate_url:
        lines.append(f"  the judgment verified, its signed certificate: {seeded.certificate_url}")
    return "\n".join(lines)
