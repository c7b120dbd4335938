"""The mail commands: subscribers import/list/show/remove, digest run (dry and real), status."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mail_support import SmtpSink, free_port
from paperwire.cli import app, register_commands
from paperwire.settings import Settings
from paperwire.storage import open_store
from test_mail_delivery import sample_papers

register_commands()


def invoke(home: Path, env: dict, *args: str):
    result = CliRunner().invoke(app, ["--home", str(home), *args], env={"PAPERWIRE_EMBEDDER": "none", **env})
    return result


def test_import_list_digest_status_remove(tmp_path: Path, sink: SmtpSink) -> None:
    home = tmp_path / "home"
    env = {"PAPERWIRE_SMTP_URL": sink.url, "PAPERWIRE_MAIL_RATE": "0", "PAPERWIRE_BASE_URL": "http://testserver"}
    store = open_store(Settings(home=home).effective_database_url)
    store.upsert_papers(sample_papers())
    csv = tmp_path / "list.csv"
    csv.write_text("email,cadence,topics\nA@example.org,daily,theory of mind;graphs\nb@example.org,weekly,\n"
                   "not-an-address,daily,\n", encoding="utf-8")  # fmt: skip
    pending = invoke(home, env, "subscribers", "import", str(csv))
    assert pending.exit_code == 0, pending.output
    assert "added 2 (pending), already known 0, invalid 1" in pending.output and "list.csv:4" in pending.output
    again = invoke(home, env, "subscribers", "import", str(csv), "--confirmed")
    assert "added 0 (confirmed), already known 2" in again.output  # known addresses are left alone
    listed = invoke(home, env, "subscribers", "list")
    assert "A@example.org" in listed.output and "pending" in listed.output

    other = tmp_path / "other.csv"
    other.write_text("email,cadence,topics\nc@example.org,daily,theory of mind\n", encoding="utf-8")
    assert invoke(home, env, "subscribers", "import", str(other), "--confirmed").exit_code == 0
    dry = invoke(home, env, "digest", "run", "--date", "2025-06-10", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run: daily digest 2025-06-10: 6 papers; composed 1" in dry.output and "c@example.org" in dry.output
    assert sink.count == 0
    real = invoke(home, env, "digest", "run", "--cadence", "daily", "--date", "2025-06-10")
    assert real.exit_code == 0, real.output
    assert "composed 1" in real.output and "sent 1" in real.output
    assert len(sink.messages_to("c@example.org")) == 1

    status = invoke(home, env, "status")
    assert status.exit_code == 0, status.output
    assert "subscribers: 1 confirmed, 2 pending" in status.output
    assert "outbox: 1 sent" in status.output and "digest-daily" in status.output

    shown = invoke(home, env, "subscribers", "show", "c@example.org")
    assert '"consent_source": "import --confirmed"' in shown.output
    assert invoke(home, env, "subscribers", "remove", "c@example.org").exit_code == 0
    assert invoke(home, env, "subscribers", "show", "c@example.org").exit_code == 1


def test_digest_run_fails_clearly_when_smtp_is_unreachable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"PAPERWIRE_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
    store = open_store(Settings(home=home).effective_database_url)
    store.upsert_papers(sample_papers())
    csv = tmp_path / "list.csv"
    csv.write_text("email,cadence,topics\na@example.org,daily,\n", encoding="utf-8")
    invoke(home, env, "subscribers", "import", str(csv), "--confirmed")
    result = invoke(home, env, "digest", "run", "--date", "2025-06-10")
    assert result.exit_code == 1
    assert "cannot reach the mail server" in result.output and "stay in the outbox" in result.output
    assert store.outbox_counts() == {"queued": 1}


def test_bad_date_and_cadence_are_reported(tmp_path: Path) -> None:
    assert invoke(tmp_path, {}, "digest", "run", "--date", "2025-13-01").exit_code == 2
    assert invoke(tmp_path, {}, "digest", "run", "--cadence", "hourly").exit_code == 2
