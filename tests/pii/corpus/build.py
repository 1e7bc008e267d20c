"""Build the labelled PII corpus (deterministic; run from anywhere).

    python tests/pii/corpus/build.py

Two sources, both labelled without the detector:
- handwritten*.txt: messages written by hand, one per line as `kind lang | text`,
  with each entity marked inline as [[TYPE|value]] and `\\n` for a line break;
- templates below: realistic message frames filled with generated fictional values;
  the label of each inserted value is known because the generator inserted it.
Output: handwritten.jsonl and templated.jsonl beside this file.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from pathlib import Path

from stdnum import luhn

HERE = Path(__file__).parent
SEED = 20261121
MARK = re.compile(r"\[\[([A-Z_]+)\|(.+?)\]\]")
TYPES = {
    "EMAIL_ADDRESS", "PHONE_NUMBER", "ID_NIK", "ID_NPWP", "ID_KK", "CREDIT_CARD",
    "BANK_ACCOUNT", "IP_ADDRESS", "PERSON", "ADDRESS", "DATE_OF_BIRTH", "SECRET", "URL",
    "PASSPORT",
}  # fmt: skip


def parse_marked(line: str) -> tuple[str, list[dict[str, object]]]:
    text_parts: list[str] = []
    entities: list[dict[str, object]] = []
    pos = 0
    length = 0
    for m in MARK.finditer(line):
        before = line[pos : m.start()]
        text_parts.append(before)
        length += len(before)
        etype, value = m.group(1), m.group(2)
        if etype not in TYPES:
            raise ValueError(f"unknown type {etype} in: {line[:60]}")
        entities.append({"start": length, "end": length + len(value), "type": etype})
        text_parts.append(value)
        length += len(value)
        pos = m.end()
    text_parts.append(line[pos:])
    return "".join(text_parts), entities


def build_handwritten() -> list[dict[str, object]]:
    records = []
    for path in sorted(HERE.glob("handwritten*.txt")):
        for n, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not raw.strip() or raw.startswith("#"):
                continue
            head, sep, body = raw.partition(" | ")
            if not sep:
                raise ValueError(f"{path.name}:{n}: expected `kind lang | text`")
            kind, lang = head.split()
            text, entities = parse_marked(body.replace("\\n", "\n"))
            records.append(
                {
                    "id": f"hw-{path.stem.removeprefix('handwritten')}-{n:04d}".replace("--", "-"),
                    "text": text,
                    "entities": entities,
                    "source": "handwritten",
                    "kind": kind,
                    "lang": lang,
                }
            )
    return records


# ---------------------------------------------------------------- fictional values


def _words(text: str) -> list[str]:
    return text.split()


GIVEN = _words(
    "Budi Sari Andi Dewi Rina Agus Wulan Fajar Intan Rudi Yanti Hendra Maya Bayu Lestari "
    "Taufik Nadia Ilham Citra Joko Ratna Gilang Puspita Arif Wahyu Ayu Dimas Fitri Reza Anisa "
    "Kevin Jessica Michael Sarah Daniel Emily James Olivia Thomas Grace Ketut Made Nyoman "
    "Sekar Bagas Rangga Laras Yohanes Theresia Rahmat Siti Nur Hafiz Salsabila Daffa Keisha "
    "Tegar Kinasih Banyu Gendis Lintang Sabrina Bima Tirta Anggara Kirana Elang Senja"
)
SURNAME = _words(
    "Santoso Wijaya Pratama Saputra Hidayat Kusuma Siregar Nasution Simanjuntak Halim Gunawan "
    "Wibowo Setiawan Lubis Sitompul Manurung Harahap Purba Tanoto Sutanto Permana Ramadhan "
    "Nugroho Susilo Hartono Rahayu Maharani Anggraini Putri Firmansyah Baker Johnson Walker "
    "Turner Morgan Hughes Pranoto Wirawan Kurniawan Sembiring Tarigan"
)
STREETS = [
    "Melati",
    "Kenanga",
    "Flamboyan",
    "Merdeka",
    "Jend. Sudirman",
    "Pahlawan",
    "Diponegoro",
    "Cendana",
    "Mawar",
    "Anggrek",
    "Veteran",
    "Gatot Subroto",
    "Cempaka Putih",
    "Kebon Jeruk Raya",
    "Pemuda",
    "Asia Afrika",
    "Siliwangi",
    "Kaliurang",
    "Margonda Raya",
    "Kartini",
    "Imam Bonjol",
    "Hasanuddin",
    "Teuku Umar",
    "Melati Raya",
    "Kenanga Indah",
    "Bunga Rampai",
    "Cikutra Baru",
    "Jati Padang",
]
KEL = _words(
    "Sukajadi Cempaka Baru Menteng Atas Karang Anyar Sidomulyo Tegalrejo Margahayu Lowokwaru "
    "Kebayoran Cilandak Barat Babakan Ciparay"
)
CITY = [
    ("Bandung", "40162"), ("Jakarta Selatan", "12430"), ("Surabaya", "60231"),
    ("Yogyakarta", "55281"), ("Semarang", "50241"), ("Malang", "65145"), ("Medan", "20152"),
    ("Denpasar", "80234"), ("Bekasi", "17145"), ("Depok", "16424"), ("Makassar", "90222"),
]  # fmt: skip
EN_STREETS = ["Oak Street", "Maple Avenue", "King Road", "Harbour Lane", "Elm Drive"]
DOMAINS = ["gmail.com", "yahoo.co.id", "contoh.co.id", "mail.example", "kantor.example.id"]
PROVINCES = [11, 12, 13, 14, 16, 18, 31, 32, 33, 34, 35, 36, 51, 52, 61, 64, 71, 73, 81, 91, 92, 96]
MOBILE = ["0811", "0812", "0813", "0821", "0822", "0852", "0853", "0857", "0878", "0881", "0896"]
AREA = ["021", "022", "031", "0274", "024", "0361"]
BANKS = [("BCA", 10), ("Mandiri", 13), ("BRI", 15), ("BNI", 10), ("BSI", 10), ("CIMB", 13)]
MONTHS_ID = _words(
    "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"
)
MONTHS_EN = _words(
    "January February March April May June July August September October November December"
)


class Gen:
    def __init__(self, rnd: random.Random) -> None:
        self.r = rnd

    def digits(self, n: int) -> str:
        return "".join(self.r.choice("0123456789") for _ in range(n))

    def person(self) -> str:
        given = self.r.choice(GIVEN)
        return given if self.r.random() < 0.4 else f"{given} {self.r.choice(SURNAME)}"

    def phone(self) -> str:
        r = self.r
        if r.random() < 0.15:
            a = r.choice(AREA)
            local = r.choice("2345789") + self.digits(7 if len(a) == 3 else 6)
            return r.choice([f"({a}) {local[:4]} {local[4:]}", f"{a}-{local[:4]}-{local[4:]}",
                             f"+62 {a[1:]} {local[:4]} {local[4:]}"])  # fmt: skip
        p = r.choice(MOBILE)
        rest = self.digits(r.choice([7, 8]))
        n = p + rest
        style = r.randrange(8)
        a, b, c = n[:4], n[4:8], n[8:]
        return [
            n, f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}.{b}.{c}", f"+62 {a[1:]}-{b}-{c}",
            f"+62{n[1:]}", f"62{n[1:]}", f"+62 {a[1:]} {b} {c}",
        ][style]  # fmt: skip

    def birth(self) -> dt.date:
        return dt.date(1950, 1, 1) + dt.timedelta(days=self.r.randrange(0, 365 * 55))

    def nik(self, born: dt.date | None = None) -> str:
        r = self.r
        born = born or self.birth()
        day = born.day + (40 if r.random() < 0.5 else 0)
        return (
            f"{r.choice(PROVINCES)}{r.randint(1, 79):02d}{r.randint(1, 30):02d}"
            f"{day:02d}{born.month:02d}{born.year % 100:02d}{r.randint(1, 40):04d}"
        )

    def not_nik16(self) -> str:
        """16 digits whose date part cannot be a birth date (month 13-99 or day 72+)."""
        while True:
            d = self.digits(16)
            month = int(d[8:10])
            day = int(d[6:8]) % 40
            if (month == 0 or month > 12 or day == 0) and not luhn.is_valid(d):
                return d

    def npwp(self) -> str:
        head = self.r.choice("0123") + self.digits(7)
        d = head + luhn.calc_check_digit(head) + self.digits(3) + "000"
        if self.r.random() < 0.8:
            return f"{d[:2]}.{d[2:5]}.{d[5:8]}.{d[8]}-{d[9:12]}.{d[12:]}"
        return d

    def card(self) -> str:
        body = self.r.choice(["4", "51", "52", "53", "54", "55"])
        body += self.digits(15 - len(body))
        n = body + luhn.calc_check_digit(body)
        return self.r.choice([n, " ".join(n[i : i + 4] for i in range(0, 16, 4)),
                              "-".join(n[i : i + 4] for i in range(0, 16, 4))])  # fmt: skip

    def bank(self) -> tuple[str, str]:
        name, n = self.r.choice(BANKS)
        return name, self.r.choice("123456789") + self.digits(n - 1)

    def email(self, person: str | None = None) -> str:
        base = (person or self.person()).lower().replace(" ", self.r.choice([".", "_", ""]))
        if self.r.random() < 0.5:
            base += str(self.r.randint(1, 99))
        return f"{base}@{self.r.choice(DOMAINS)}"

    def ip(self) -> str:
        r = self.r
        if r.random() < 0.2:
            return f"2001:db8:{r.randint(1, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
        a = r.choice(["192.0.2", "198.51.100", "203.0.113", "10.12", "172.16"])
        parts = a.split(".")
        while len(parts) < 4:
            parts.append(str(r.randint(1, 254)))
        return ".".join(parts)

    def address(self) -> str:
        r = self.r
        city, postal = r.choice(CITY)
        street = f"{r.choice(['Jl.', 'Jl', 'Jalan', 'Jln.'])} {r.choice(STREETS)} No. {r.randint(1, 150)}"
        parts = [street]
        if r.random() < 0.6:
            parts.append(f"RT {r.randint(1, 12):02d}/RW {r.randint(1, 9):02d}")
        if r.random() < 0.5:
            parts.append(f"Kel. {r.choice(KEL)}")
        parts.append(city)
        s = ", ".join(parts)
        return s + f" {postal}" if r.random() < 0.7 else s

    def en_address(self) -> str:
        return f"{self.r.randint(2, 990)} {self.r.choice(EN_STREETS)}, Springfield"

    def dob(self, born: dt.date | None = None) -> str:
        b = born or self.birth()
        return self.r.choice([
            f"{b.day:02d}-{b.month:02d}-{b.year}", f"{b.day}/{b.month}/{b.year}",
            f"{b.day} {MONTHS_ID[b.month - 1]} {b.year}", f"{b.year}-{b.month:02d}-{b.day:02d}",
            f"{b.day:02d}.{b.month:02d}.{b.year}",
        ])  # fmt: skip

    def dob_en(self) -> str:
        b = self.birth()
        return self.r.choice([f"{MONTHS_EN[b.month - 1]} {b.day}, {b.year}",
                              f"{b.day} {MONTHS_EN[b.month - 1]} {b.year}",
                              f"{b.day:02d}/{b.month:02d}/{b.year}"])  # fmt: skip

    def secret(self) -> str:
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        tail = "".join(self.r.choice(alphabet) for _ in range(32))
        return self.r.choice([f"sk-proj-{tail}", f"gsk_{tail}", f"ghp_{tail}{tail[:4]}",
                              f"AKIA{tail[:16].upper()}"])  # fmt: skip

    def password(self) -> str:
        return self.r.choice(["Kucing#2024", "S3mangat!", "bandung1990", "Rahasia_88",
                              "P@ssw0rd99", "mawar123", "Jakarta*17", "qwerty!23A"])  # fmt: skip

    def url(self) -> str:
        p = self.person().split()[0].lower()
        return self.r.choice([
            f"https://toko.example/akun/verifikasi?email={p}%40gmail.com&token={self.digits(8)}",
            f"https://app.contoh.id/reset?phone=0812{self.digits(8)}",
            f"http://crm.example/lead?nama={p}&hp=0813{self.digits(8)}",
        ])  # fmt: skip

    def passport(self) -> str:
        return self.r.choice("ABCEX") + self.digits(7)

    # hard negatives: they appear in the text but are never labelled
    def invoice(self) -> str:
        return self.r.choice([f"INV/2024/{self.r.randint(1, 12):02d}/{self.digits(4)}",
                              f"#ORD-{self.digits(5)}", f"TRX{self.digits(10)}",
                              f"order {self.digits(12)}"])  # fmt: skip

    def resi(self) -> str:
        return self.r.choice([f"JP{self.digits(10)}", f"CGK{self.digits(12)}",
                              f"00{self.digits(10)}", f"SPX{self.digits(12)}ID"])  # fmt: skip

    def price(self) -> str:
        return self.r.choice([f"Rp {self.r.randint(10, 999)}.{self.r.choice(['000', '500'])}",
                              f"Rp{self.r.randint(1, 9)}.{self.digits(3)}.000",
                              f"{self.r.randint(20, 900)}rb", f"IDR {self.r.randint(100, 999)},000"])  # fmt: skip

    def time(self) -> str:
        return self.r.choice([f"{self.r.randint(7, 21)}.{self.r.choice(['00', '15', '30', '45'])}",
                              f"{self.r.randint(7, 21):02d}:{self.r.choice(['00', '30'])} WIB"])  # fmt: skip

    def date(self) -> str:
        d = dt.date(2024, 1, 1) + dt.timedelta(days=self.r.randrange(0, 700))
        return self.r.choice([f"{d.day}/{d.month}/{d.year}", f"{d.day} {MONTHS_ID[d.month - 1]}",
                              f"{d.day:02d}-{d.month:02d}-{d.year}"])  # fmt: skip

    def version(self) -> str:
        return f"{self.r.randint(1, 5)}.{self.r.randint(0, 20)}.{self.r.randint(0, 9)}"

    def promo(self) -> str:
        return self.r.choice(["HEMAT50", "GAJIAN25", "ONGKIRFREE", "NEWUSER10", "RAMADAN24"])

    def va(self) -> str:
        return "8808" + self.digits(12)


# ---------------------------------------------------------------- templates

TEMPLATES: list[tuple[str, str, str]] = [
    # WhatsApp, Indonesian
    ("wa", "id", "Halo kak, saya {PERSON}, mau tanya pesanan {inv} kok belum sampai ya? WA saya {PHONE}"),
    ("wa", "id", "kak ini nomor aku {PHONE} ya, nanti kabarin kalau barangnya udah dikirim"),
    ("wa", "id", "Selamat pagi, saya {PERSON}. Untuk pendaftaran, NIK saya {NIK}"),
    ("wa", "id", "min, ongkirnya {price} kan? resi {resi} belum update dari kemarin"),
    ("wa", "id", "Sudah saya transfer {price} ke rekening {BANK} {ACC} a.n. {PERSON} ya kak"),
    ("wa", "id", "Kak, refund nya tolong ke {BANK} {ACC} atas nama {PERSON}"),
    ("wa", "id", "Pak {PERSON}, paketnya sudah sampai di lobby jam {time}"),
    ("wa", "id", "Bu {PERSON} minta dihubungi balik di {PHONE} setelah jam {time}"),
    ("wa", "id", "kirim ke {ADDR} ya kak, penerima {PERSON} {PHONE}"),
    ("wa", "id", "Alamat pengiriman: {ADDR}. Makasih kak"),
    ("wa", "id", "pakai kode promo {promo} kok gagal terus ya kak? totalnya {price}"),
    ("wa", "id", "Kak aku udah update aplikasinya ke versi {ver} tapi masih error"),
    ("wa", "id", "Bayar lewat VA {va} bisa kan kak? batasnya tanggal {date}"),
    ("wa", "id", "mas {PERSON} ini email saya {EMAIL}, tolong kirim invoicenya ke sana"),
    ("wa", "id", "Nomor KK saya {KK}, NIK {NIK}. Mohon dibantu verifikasinya"),
    ("wa", "id", "kak mau daftar member, nama {PERSON}, tgl lahir {DOB}, hp {PHONE}"),
    ("wa", "id", "Saya {PERSON} dari {CITY}, mau konsultasi soal website toko saya"),
    ("wa", "id", "halo, aku {PERSON}, kemarin udah chat sama kak {PERSON} soal pesanan {inv}"),
    ("wa", "id", "Maaf kak baru bales, nomor rekening saya {BANK} {ACC}"),
    ("wa", "id", "Kode booking {inv}, jadwal {date} jam {time}. Atas nama {PERSON}"),
    ("wa", "id", "kak tolong ganti nomor hp di akun saya jadi {PHONE}, yang lama hilang"),
    ("wa", "id", "STOP"),
    ("wa", "id", "Ok kak makasih, ditunggu kabarnya ya 🙏"),
    ("wa", "id", "Kak cicilan bulan ini {price} jatuh tempo tgl {date} ya?"),
    ("wa", "id", "Ini serial number produknya {n16} kak, garansinya masih berlaku?"),
    ("wa", "id", "nomor pesanan {n16} kak, statusnya masih diproses"),
    # chat widget, Indonesian and mixed
    ("widget", "id", "Halo, saya {PERSON} dari PT Maju Jaya. Bisa minta penawaran chatbot? Email {EMAIL}"),
    ("widget", "mixed", "Hi kak, saya {PERSON}, need quotation for AI automation. Contact me at {EMAIL} or {PHONE}"),
    ("widget", "mixed", "hello admin, my order {inv} belum sampai, tolong dicek ya. thanks"),
    ("widget", "mixed", "Saya mau cancel subscription, akun saya {EMAIL}, last payment {price}"),
    ("widget", "id", "Mau tanya harga paket hosting yang {price} per bulan, bisa bayar pakai kartu kredit?"),
    ("widget", "id", "Kartu kredit saya {CARD} ditolak terus waktu checkout, kenapa ya?"),
    ("widget", "mixed", "My card {CARD} was charged twice for order {inv}"),
    ("widget", "id", "Nama saya {PERSON}, saya lupa password akun. Email terdaftar {EMAIL}"),
    ("widget", "id", "Password saya {PWD} kok ga bisa login ya"),
    ("widget", "mixed", "Our API key {SECRET} stopped working after update {ver}"),
    ("widget", "en", "Hi, I'm {PERSON}. I'd like a demo of the WhatsApp bot. My number is {PHONE}."),
    ("widget", "en", "Hello, can you tell me the price of the Pro plan? It says {price} on the website."),
    ("widget", "en", "My name is {PERSON} and I live at {ADDR_EN}. Please update my billing address."),
    ("widget", "en", "Please delete all my data. My email is {EMAIL}."),
    ("widget", "en", "Is version {ver} compatible with the plugin? Released on {date}."),
    ("widget", "en", "I was born on {DOB_EN}, but the form says I'm under 18"),
    ("widget", "en", "Thanks for the quick reply! Order {inv} arrived at {time}."),
    ("widget", "mixed", "kak, link verifikasinya {URL} expired, bisa kirim ulang?"),
    ("widget", "id", "Tolong cek, saya login dari IP {IP} tapi diblokir"),
    ("widget", "en", "We see failed logins from {IP} against the admin panel since {date}"),
    # support tickets
    ("ticket", "id", "Subjek: Permintaan hapus data\\n\\nDengan hormat, saya {PERSON} (NIK {NIK}) meminta seluruh data pribadi saya dihapus.\\n\\nHormat saya,\\n{PERSON}"),
    ("ticket", "id", "Subjek: Koreksi data\\n\\nMohon ubah alamat saya menjadi {ADDR}. No HP {PHONE}.\\n\\nTerima kasih,\\n{PERSON}"),
    ("ticket", "en", "Subject: Access request\\n\\nDear team,\\nI would like a copy of all personal data you hold about me. Account: {EMAIL}.\\n\\nBest regards,\\n{PERSON}"),
    ("ticket", "en", "Subject: Refund\\n\\nHello, please refund invoice {inv} ({price}) to account {ACC} at {BANK}.\\n\\nThanks,\\n{PERSON}"),
    ("ticket", "en", "Server {IP} returned 500 errors between {time} and {time} on {date}. Release {ver}."),
    ("ticket", "id", "Laporan: pelanggan a.n. {PERSON} mengeluh paket dengan resi {resi} rusak. Kontak {PHONE}"),
    ("ticket", "id", "Tiket #{digits5}: verifikasi NPWP {NPWP} untuk faktur pajak {inv}"),
    ("ticket", "id", "Wajib pajak {PERSON}, NPWP {NPWP16} (NIK sebagai NPWP). Mohon dibuatkan faktur"),
    ("ticket", "en", "Customer {PERSON} reports that token {SECRET} was pasted in a public channel; please rotate"),
    ("ticket", "en", "Passport number {PASSPORT}, expires {date}. Applicant: {PERSON}"),
    ("ticket", "id", "Untuk visa, nomor paspor {PASSPORT} a.n. {PERSON}, lahir {DOB}"),
    ("ticket", "en", "Deployed {ver} to production at {time}; no customer impact. Rollback plan ready."),
    ("ticket", "id", "Gangguan jaringan di area {CITY} sejak pukul {time}, estimasi normal {date}"),
    # form submissions
    ("form", "id", "Nama: {PERSON}\\nEmail: {EMAIL}\\nNo HP: {PHONE}\\nPesan: mau konsultasi integrasi WhatsApp"),
    ("form", "id", "Nama Lengkap: {PERSON}\\nNIK: {NIK}\\nTempat/Tgl Lahir: {CITY}, {DOB}\\nAlamat: {ADDR}"),
    ("form", "id", "nama: {PERSON}\\nno_hp: {PHONE}\\nkota: {CITY}\\nbudget: {price}"),
    ("form", "en", "Name: {PERSON}\\nEmail: {EMAIL}\\nPhone: {PHONE}\\nMessage: Interested in the chatbot package"),
    ("form", "en", "Full name: {PERSON}\\nDate of birth: {DOB_EN}\\nPassport: {PASSPORT}"),
    ("form", "id", "Nama Pemilik Rekening: {PERSON}\\nBank: {BANK}\\nNo Rekening: {ACC}"),
    ("form", "id", "NPWP: {NPWP}\\nNama Wajib Pajak: {PERSON}\\nAlamat: {ADDR}"),
    ("form", "id", "No. KK: {KK}\\nNama Kepala Keluarga: {PERSON}"),
    ("form", "en", "Company: PT Sinar Digital\\nBudget: {price}\\nTimeline: before {date}\\nPromo code: {promo}"),
    ("form", "id", "Produk: Paket Bisnis\\nJumlah: 3\\nTotal: {price}\\nKode voucher: {promo}"),
]  # fmt: skip

SLOT = re.compile(r"\{([A-Za-z_0-9]+)\}")
LABELLED = {
    "PERSON": "PERSON", "PHONE": "PHONE_NUMBER", "NIK": "ID_NIK", "KK": "ID_KK",
    "NPWP": "ID_NPWP", "NPWP16": "ID_NPWP", "CARD": "CREDIT_CARD", "ACC": "BANK_ACCOUNT",
    "EMAIL": "EMAIL_ADDRESS", "IP": "IP_ADDRESS", "ADDR": "ADDRESS", "ADDR_EN": "ADDRESS",
    "DOB": "DATE_OF_BIRTH", "DOB_EN": "DATE_OF_BIRTH", "SECRET": "SECRET", "PWD": "SECRET",
    "URL": "URL", "PASSPORT": "PASSPORT",
}  # fmt: skip


def fill(g: Gen, template: str) -> tuple[str, list[dict[str, object]]]:
    bank, acc = g.bank()
    values = {
        "PERSON": g.person, "PHONE": g.phone, "NIK": g.nik, "KK": g.nik, "NPWP": g.npwp,
        "NPWP16": g.nik, "CARD": g.card, "ACC": lambda: acc, "BANK": lambda: bank,
        "EMAIL": g.email, "IP": g.ip, "ADDR": g.address, "ADDR_EN": g.en_address,
        "DOB": g.dob, "DOB_EN": g.dob_en, "SECRET": g.secret, "PWD": g.password, "URL": g.url,
        "PASSPORT": g.passport, "CITY": lambda: g.r.choice(CITY)[0], "inv": g.invoice,
        "resi": g.resi, "price": g.price, "time": g.time, "date": g.date, "ver": g.version,
        "promo": g.promo, "va": g.va, "n16": g.not_nik16, "digits5": lambda: g.digits(5),
    }  # fmt: skip
    template = template.replace("\\n", "\n")
    out: list[str] = []
    entities: list[dict[str, object]] = []
    pos = 0
    length = 0
    for m in SLOT.finditer(template):
        literal = template[pos : m.start()]
        out.append(literal)
        length += len(literal)
        value = values[m.group(1)]()
        if m.group(1) in LABELLED:
            entities.append(
                {"start": length, "end": length + len(value), "type": LABELLED[m.group(1)]}
            )
        out.append(value)
        length += len(value)
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), entities


def build_templated(count: int = 1000) -> list[dict[str, object]]:
    g = Gen(random.Random(SEED))
    records = []
    for i in range(count):
        kind, lang, template = TEMPLATES[i % len(TEMPLATES)]
        text, entities = fill(g, template)
        records.append({"id": f"tpl-{i:04d}", "text": text, "entities": entities,
                        "source": "template", "kind": kind, "lang": lang})  # fmt: skip
    return records


def write(path: Path, records: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main() -> int:
    hand = build_handwritten()
    tpl = build_templated()
    write(HERE / "handwritten.jsonl", hand)
    write(HERE / "templated.jsonl", tpl)
    total = len(hand) + len(tpl)
    print(
        f"{len(hand)} handwritten + {len(tpl)} templated = {total} ({len(hand) / total:.0%} by hand)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
