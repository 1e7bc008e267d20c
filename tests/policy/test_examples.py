"""Each example policy is valid and its notice states the seed's facts in both languages."""

from __future__ import annotations

import re

import pytest

from privasi.policy import policy_from_dict, render_notice

from .helpers import EXAMPLES, SEEDS, example, rendered

SEED_FILES = {
    "digimetalab": "000_f1b8daf661465508.txt",
    "cybernet": "001_e6c49a35e1a44a4a.txt",
    "tekino": "002_b4a2aa9ca1f7b64c.txt",
    "aspire": "003_215adcfddc4755a2.txt",
    "crm": "004_dd2a0829ceea3237.txt",
}

# Facts written the same way in the seed and in both notices: names, addresses, tools.
VERBATIM = {
    "digimetalab": [
        "PT. Digital Meta Solutions",
        "privacy@digimetalab.my.id",
        "Groq",
        "OpenAI",
        "Netlify",
        "Cloudflare",
        "AWS",
        "Google Cloud",
        "Google Analytics",
        "SOC 2",
        "ISO 27001",
        "AES-256",
        "TLS 1.3",
    ],
    "cybernet": ["support@cybernet.co.id", "Meta Platforms, Inc.", "STOP", "Unlink"],
    "tekino": [
        "PT Teknologi Integrasi Optima",
        "Tek Ino",
        "contact@tek-ino.com",
        "https://www.tek-ino.com",
        "Meta Platforms, Inc.",
    ],
    "aspire": [
        "PT Alumak Teknologi Indonesia",
        "https://aspireapp.com/id/contact-us",
        "SLIK",
        "500",
    ],
    "crm": ["CRM"],
}

# Facts from the seed as each language says them: countries, periods, bases, cookies, ages.
BY_LANGUAGE = {
    "digimetalab": {
        "en": [
            "United States",
            "European Union",
            "2 years after your last interaction with us",
            "unless you become our client",
            "7 years after the project is completed",
            "90 days",
            "anonymised",
            "26 months",
            "at least 5 years",
            "10 years",
            "until you unsubscribe or withdraw your consent",
            "We answer requests within 30 days",
            "Consent",
            "Performance of a contract",
            "legitimate interests",
            "legal obligation",
            "Essential cookies",
            "Analytics cookies",
            "Preference cookies",
            "Performance cookies",
            "under 18",
            "We never sell your personal data",
            "15 January 2026",
        ],
        "id": [
            "Amerika Serikat",
            "Uni Eropa",
            "2 tahun setelah interaksi terakhir Anda dengan kami",
            "kecuali Anda menjadi klien kami",
            "7 tahun setelah proyek selesai",
            "90 hari",
            "dianonimkan",
            "26 bulan",
            "paling sedikit 5 tahun",
            "10 tahun",
            "sampai Anda berhenti berlangganan atau menarik persetujuan",
            "Kami menanggapi permintaan dalam 30 hari",
            "Persetujuan",
            "perjanjian",
            "Kepentingan sah",
            "kewajiban hukum",
            "Cookie esensial",
            "Cookie analitik",
            "Cookie preferensi",
            "Cookie kinerja",
            "di bawah 18 tahun",
            "Kami tidak pernah menjual data pribadi Anda",
            "15 Januari 2026",
        ],
    },
    "cybernet": {
        "en": [
            "date of birth",
            "bank account",
            "Law enforcement and authorised institutions",
            'Reply "STOP" to stop these messages',
            "payment confirmations",
            "under 18",
            "Performance of a contract",
            "Consent",
        ],
        "id": [
            "tanggal lahir",
            "rekening bank",
            "Penegak hukum dan lembaga berwenang",
            'Balas "STOP" untuk berhenti menerima pesan ini',
            "konfirmasi pembayaran",
            "di bawah 18 tahun",
            "Pemenuhan kewajiban perjanjian",
            "Persetujuan",
        ],
    },
    "tekino": {
        "en": [
            "5 February 2026",
            "Business Users",
            "personal data processor",
            "Hosting and cloud infrastructure providers",
            "Security and monitoring service providers",
            "Payment processing providers",
            "until our contract with you ends",
            "without undue delay",
            "please send it to that business",
            "parent or guardian",
        ],
        "id": [
            "5 Februari 2026",
            "Pengguna Bisnis",
            "Prosesor Data Pribadi",
            "Penyedia hosting dan infrastruktur cloud",
            "Penyedia layanan keamanan dan pemantauan",
            "Penyedia pemrosesan pembayaran",
            "sampai perjanjian Anda dengan kami berakhir",
            "segera",
            "ajukan permintaan itu kepada bisnis tersebut",
            "orang tua atau wali",
        ],
    },
    "aspire": {
        "en": [
            "24 July 2023",
            "5 years after you close your account or stop using our services",
            "at least 5 years",
            "parent or guardian",
            "Essential cookies",
            "Analytics cookies",
            "Preference cookies",
            "Advertising cookies",
            "aggregated figures",
            "Consent",
            "legitimate interests",
            "legal obligation",
            "receipts",
            "may no longer be able to use our services",
        ],
        "id": [
            "24 Juli 2023",
            "5 tahun setelah Anda menutup akun atau berhenti memakai layanan kami",
            "paling sedikit 5 tahun",
            "orang tua atau wali",
            "Cookie esensial",
            "Cookie analitik",
            "Cookie preferensi",
            "Cookie iklan",
            "angka gabungan",
            "Persetujuan",
            "Kepentingan sah",
            "kewajiban hukum",
            "tanda terima",
            "mungkin tidak dapat lagi memakai layanan kami",
        ],
    },
    "crm": {
        "en": [
            "Customer data in the CRM",
            "communication logs",
            "penetration testing",
            "Cloud storage providers",
            "Analytics providers",
            "Payment processors",
            "We never sell your personal data",
            "machine-readable",
            "under 18",
            "Analytics cookies",
        ],
        "id": [
            "Data pelanggan di CRM",
            "log komunikasi",
            "uji penetrasi",
            "Penyedia penyimpanan cloud",
            "Penyedia analitik",
            "Penyedia pembayaran",
            "Kami tidak pernah menjual data pribadi Anda",
            "dapat dibaca mesin",
            "di bawah 18 tahun",
            "Cookie analitik",
        ],
    },
}

NAMES = sorted(SEED_FILES)


def _plain(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html)
    text = text.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", text)


def test_every_example_file_is_covered() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_verbatim_facts_come_from_the_seed(name: str) -> None:
    seed = (SEEDS / SEED_FILES[name]).read_text("utf-8")
    for fact in VERBATIM[name]:
        assert fact in seed, f"{fact!r} is not in seed {SEED_FILES[name]}"


@pytest.mark.parametrize("fmt", ["html", "md"])
@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", NAMES)
def test_notice_states_the_seed_facts(name: str, lang: str, fmt: str) -> None:
    text = rendered(name, lang, fmt)
    text = _plain(text) if fmt == "html" else re.sub(r"\s+", " ", text.replace("*", ""))
    missing = [f for f in VERBATIM[name] + BY_LANGUAGE[name][lang] if f not in text]
    assert not missing, f"{name} {lang} {fmt} does not mention {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_the_two_languages_differ(name: str) -> None:
    for fmt in ("html", "md"):
        assert rendered(name, "id", fmt) != rendered(name, "en", fmt)
    # English phrases of one notice must not leak into the other.
    assert "Your rights" not in rendered(name, "id", "md")
    assert "Hak Anda" not in rendered(name, "en", "md")


def test_html_notice_is_escaped_and_marked_with_its_language() -> None:
    html = rendered("digimetalab", "id", "html")
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="id">' in html
    assert "&#34;Digimetalab&#34;" in html  # quotes in text are escaped, not raw markup


def test_processor_notice_routes_requests_and_controller_notice_does_not() -> None:
    assert "please send it to that business" in rendered("tekino", "en", "md")
    assert "please send it to that business" not in rendered("digimetalab", "en", "md")


def test_law_clock_shown_when_shorter_than_the_promise() -> None:
    # Digimetalab promises 30 days; UU PDP gives 3 x 24 hours for access, none for erasure.
    md = rendered("digimetalab", "id", "md")
    assert "| Akses ke data Anda | 3 x 24 jam |" in md
    assert "| Penghapusan data | 30 hari |" in md
    assert "| Access to your data | 72 hours |" in rendered("digimetalab", "en", "md")


def test_examples_expose_what_other_parts_read() -> None:
    dml = example("digimetalab")
    assert dml.organisation.time_zone == "Asia/Makassar"
    assert dml.purpose("marketing").legal_basis.value == "consent"
    assert str(dml.rights_deadline("erasure")) == "P30D"
    crm = dml.system("crm")
    assert crm.kind.value == "sql" and crm.credential == "crm_db"
    assert [r.id for r in dml.retention_for(category="chat")] == ["chat"]
    assert example("tekino").organisation.role.value == "processor"
    assert example("aspire").category("financial").specific_kind is not None


@pytest.mark.parametrize("name", NAMES)
def test_stored_form_round_trips(name: str) -> None:
    # Stored versions keep model_dump(mode="json"); loading it back must give the same policy.
    policy = example(name)
    assert policy_from_dict(policy.model_dump(mode="json")) == policy


def test_html_fragment_for_embedding() -> None:
    fragment = render_notice(example("aspire"), "id", "html", fragment=True)
    assert fragment.startswith('<article class="privacy-notice" lang="id">')
    assert "<html" not in fragment and "<style>" not in fragment


def test_lookups_for_the_gateway_consent_and_retention() -> None:
    dml = example("digimetalab")
    groq = dml.recipient("groq")
    assert [r.id for r in dml.ai_providers()] == ["groq", "openai"]
    assert groq.action_for("ID_NIK").value == "block"
    assert groq.action_for("PERSON").value == "pseudonymize"
    assert groq.action_for("SOMETHING_NEW").value == "pseudonymize"  # the default
    essential = dml.cookie("essential")
    assert essential is not None and essential.locked
    assert dml.cookie("advertising") is None
    # A lead's contact data: 2 years after the last interaction; not once they became a client.
    assert [r.id for r in dml.retention_for(category="contact", state="lead")] == ["inquiries"]
    assert [r.id for r in dml.retention_for(category="contact", state="client")] == [
        "client_projects"
    ]
    with pytest.raises(KeyError):
        dml.purpose("no_such_purpose")
