"""seed_demo, as `make run` calls it."""

from io import StringIO

from django.core.management import call_command

from documents.models import Record, ServiceEvent


def test_demo_seed_has_every_category_and_a_served_stamped_judgment(
    running_sequencer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    assert "court API token" in text and "/s/" in text
    assert f"{settings.PUBLIC_BASE_URL}/c/" in text  # the judgment's certificate
    assert set(Record.objects.values_list("category", flat=True)) == set(Record.Category.values)
    judgment = Record.objects.get(stamped=True)
    assert judgment.file.read().startswith(b"%PDF-")
    assert set(judgment.events.values_list("event", flat=True)) == set(ServiceEvent.Event.values)
    assert all(e.ledger_index is not None for e in judgment.events.all())
    # Seeding again creates nothing new.
    call_command("seed_demo", stdout=StringIO())
    assert Record.objects.count() == 3
