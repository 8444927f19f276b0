#!/usr/bin/env python3
"""Generate the labelled PII/secrets corpus used by guard/tests/corpus_quality.rs.

Output: testdata/guard/corpus.jsonl, one record per line:
    {"id": "...", "group": "pii|secret|negative", "text": "...",
     "spans": [{"start": <byte>, "end": <byte>, "kind": "pii.email"}]}
Offsets are UTF-8 byte offsets, like the findings of `palisade scan` (which ignores the extra
fields, so the file can be scanned directly).

Requirements (regeneration only; the JSONL is committed):
    pip install faker==40.63.0
    pip download --no-deps -d /tmp/presidio presidio-evaluator==0.3.2
    python3 -m zipfile -e /tmp/presidio/presidio_evaluator-0.3.2-py3-none-any.whl /tmp/presidio/x
    python3 tools/guard/gen_corpus.py \
        --templates /tmp/presidio/x/presidio_evaluator/data_generator/raw_data/templates.txt

Sentence templates come from presidio-evaluator (MIT). Values come from Faker with a fixed seed,
so the output is reproducible for a given Faker version.
"""

import argparse
import json
import random
import re
import string
from pathlib import Path

from faker import Faker

SEED = 20261128
ROOT = Path(__file__).resolve().parents[2]

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
CARD_TYPES = ["visa16", "visa13", "visa19", "mastercard", "amex", "discover", "jcb16", "diners"]


class Builder:
    """Builds a text from pieces, tracking byte offsets of labelled pieces."""

    def __init__(self):
        self.parts = []
        self.spans = []
        self.pos = 0

    def add(self, text, kind=None):
        b = text.encode("utf-8")
        if kind:
            self.spans.append({"start": self.pos, "end": self.pos + len(b), "kind": kind})
        self.parts.append(text)
        self.pos += len(b)

    def done(self):
        return "".join(self.parts), self.spans


def group_digits(digits, groups, sep):
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    if i < len(digits):
        out.append(digits[i:])
    return sep.join(x for x in out if x)


def card(fake, rng):
    ctype = rng.choice(CARD_TYPES)
    num = fake.credit_card_number(card_type=ctype)
    style = rng.random()
    if style < 0.4:
        return num
    sep = " " if style < 0.75 else "-"
    if len(num) == 15:
        return group_digits(num, [4, 6, 5], sep)
    return group_digits(num, [4, 4, 4, 4], sep)


def iban(rng):
    fake = Faker(rng.choice(["de_DE", "en_GB", "fr_FR", "es_ES", "it_IT", "nl_NL"]))
    fake.seed_instance(rng.randrange(1 << 30))
    value = fake.iban()
    if rng.random() < 0.5:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def phone(rng):
    d = lambda n: "".join(rng.choice(string.digits) for _ in range(n))
    area = str(rng.randint(2, 9)) + d(2)
    exch = str(rng.randint(2, 9)) + d(2)
    line = d(4)
    formats = [
        f"({area}) {exch}-{line}",
        f"{area}-{exch}-{line}",
        f"{area}.{exch}.{line}",
        f"{area} {exch} {line}",
        f"+1 {area} {exch} {line}",
        f"+1-{area}-{exch}-{line}",
        f"+1 ({area}) {exch}-{line}",
        f"1-{area}-{exch}-{line}",
        f"+44 20 {d(4)} {d(4)}",
        f"+44 7{d(3)} {d(6)}",
        f"020 {d(4)} {d(4)}",
        f"07{d(3)} {d(6)}",
        f"+49 30 {d(8)}",
        f"+49 151 {d(4)} {d(4)}",
        f"030 {d(8)}",
        f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"01 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"+34 9{d(2)} {d(3)} {d(3)}",
        f"+39 06 {d(4)} {d(4)}",
        f"+31 20 {d(3)} {d(4)}",
        f"+61 2 {d(4)} {d(4)}",
        f"+81 3-{d(4)}-{d(4)}",
        f"+{rng.randint(2, 9)}{d(1)} {d(3)} {d(3)} {d(3)}",
    ]
    return rng.choice(formats)


def ssn(fake):
    return fake.ssn()


def ip(fake, rng):
    r = rng.random()
    if r < 0.35:
        return fake.ipv4_public()
    if r < 0.6:
        return fake.ipv4_private()
    v6 = fake.ipv6()
    if rng.random() < 0.5:
        # compress the longest zero-free run form by hand: drop two middle groups
        groups = v6.split(":")
        if len(groups) == 8:
            v6 = ":".join(groups[:3]) + "::" + ":".join(groups[6:])
    return v6


PII = {
    "credit_card_number": "pii.credit_card",
    "email": "pii.email",
    "phone_number": "pii.phone",
    "iban": "pii.iban",
    "ssn": "pii.us_ssn",
    "ip_address": "pii.ip_address",
}


def fill(fake, rng, name):
    if name == "credit_card_number":
        return card(fake, rng)
    if name == "email":
        return rng.choice([fake.email, fake.company_email, fake.free_email])()
    if name == "phone_number":
        return phone(rng)
    if name == "iban":
        return iban(rng)
    if name == "ssn":
        return ssn(fake)
    if name == "ip_address":
        return ip(fake, rng)
    # Unlabelled filler.
    fallbacks = {
        "person": fake.name, "name": fake.name, "first_name": fake.first_name,
        "last_name": fake.last_name, "city": fake.city, "country": fake.country,
        "address": lambda: fake.address().replace("\n", ", "), "street_name": fake.street_name,
        "organization": fake.company, "building_number": fake.building_number,
        "age": lambda: str(rng.randint(18, 90)), "secondary_address": fake.secondary_address,
        "year": fake.year, "postcode": fake.postcode, "zipcode": fake.zipcode,
        "nationality": lambda: rng.choice(["French", "German", "Kenyan", "Peruvian"]),
        "url": fake.url, "job": fake.job, "date_time": lambda: str(fake.date_time()),
        "date_of_birth": lambda: str(fake.date_of_birth()), "day_of_week": fake.day_of_week,
        "state_abbr": fake.state_abbr, "us_driver_license": lambda: fake.bothify("?#######"),
    }
    for key, fn in fallbacks.items():
        if key in name:
            return str(fn())
    return fake.word()


TEMPLATE_RE = re.compile(r"{{([a-z_]+)}}")

EXTRA_TEMPLATES = [
    "Contact me at {{email}} or {{phone_number}}.",
    "Wire the refund to {{iban}}, reference {{person}}.",
    "SSN: {{ssn}}; DOB {{date_of_birth}}.",
    "The server {{ip_address}} keeps timing out since {{date_time}}.",
    "Card {{credit_card_number}} was charged twice on {{date_time}}.",
    "Hi, I'm {{person}}, reach me on {{phone_number}} (mobile) or {{email}}.",
    "Please whitelist {{ip_address}} and {{ip_address}} for {{organization}}.",
    "Pay into {{iban}} before {{year}}.",
    "{{person}}'s social is {{ssn}}, card {{credit_card_number}}.",
]


def pii_records(templates, rng, fake, n):
    out = []
    pool = [t for t in templates if TEMPLATE_RE.search(t)] + EXTRA_TEMPLATES * 6
    for i in range(n):
        t = rng.choice(pool)
        b = Builder()
        pos = 0
        for m in TEMPLATE_RE.finditer(t):
            b.add(t[pos : m.start()])
            name = m.group(1)
            b.add(fill(fake, rng, name), PII.get(name))
            pos = m.end()
        b.add(t[pos:])
        text, spans = b.done()
        out.append({"id": f"pii-{i:05d}", "group": "pii", "text": text, "spans": spans})
    return out


def rand(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


AZ09 = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64URL = ALNUM + "-_"


def secret_value(rng, kind):
    if kind == "secret.aws_access_key_id":
        return rng.choice(["AKIA", "ASIA"]) + rand(rng, AZ09, 16)
    if kind == "secret.aws_secret_access_key":
        return rand(rng, ALNUM + "/+", 40)
    if kind == "secret.github_token":
        if rng.random() < 0.8:
            return "gh" + rng.choice("pousr") + "_" + rand(rng, ALNUM, 36)
        return "github_pat_" + rand(rng, ALNUM, 22) + "_" + rand(rng, ALNUM, 59)
    if kind == "secret.gitlab_token":
        return "glpat-" + rand(rng, ALNUM + "-_", 20)
    if kind == "secret.slack_token":
        if rng.random() < 0.7:
            return "xox" + rng.choice("bpa") + "-" + rand(rng, string.digits, 12) + "-" + rand(rng, string.digits, 13) + "-" + rand(rng, ALNUM, 24)
        return "https://hooks.slack.com/services/T" + rand(rng, AZ09, 10) + "/B" + rand(rng, AZ09, 10) + "/" + rand(rng, ALNUM, 24)
    if kind == "secret.stripe_key":
        return rng.choice(["sk", "rk"]) + "_" + rng.choice(["live", "test"]) + "_" + rand(rng, ALNUM, rng.choice([24, 34, 99]))
    if kind == "secret.openai_key":
        r = rng.random()
        if r < 0.5:
            return "sk-proj-" + rand(rng, ALNUM + "-_", rng.choice([48, 64, 120]))
        if r < 0.75:
            return "sk-" + rand(rng, ALNUM, 20) + "T3BlbkFJ" + rand(rng, ALNUM, 20)
        return "sk-" + rand(rng, ALNUM, 48)
    if kind == "secret.jwt":
        import base64
        enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).decode().rstrip("=")
        head = enc({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"})
        body = enc({"sub": rand(rng, string.digits, 10), "name": "x" * rng.randint(1, 8), "iat": rng.randint(1e9, 2e9)})
        return head + "." + body + "." + rand(rng, B64URL, rng.choice([43, 86]))
    if kind == "secret.private_key":
        label = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
        lines = [rand(rng, ALNUM + "+/", 64) for _ in range(rng.randint(3, 12))]
        return f"-----BEGIN {label}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {label}PRIVATE KEY-----"
    if kind == "secret.generic_api_key":
        return rand(rng, ALNUM, rng.randint(24, 48))
    raise ValueError(kind)


SECRET_TEMPLATES = {
    "secret.aws_access_key_id": ["My AWS access key is {v}, why is S3 denying me?", "aws_access_key_id = {v}", "export AWS_ACCESS_KEY_ID={v}"],
    "secret.aws_secret_access_key": ["aws_secret_access_key = {v}", "AWS_SECRET_ACCESS_KEY=\"{v}\"", "set aws_secret_access_key: {v} in the profile"],
    "secret.github_token": ["git clone https://{v}@github.com/org/repo.git fails", "GITHUB_TOKEN={v}", "Here is my token {v} can you check the scopes?"],
    "secret.gitlab_token": ["curl --header \"PRIVATE-TOKEN: {v}\" https://gitlab.example.com/api/v4/projects", "my gitlab PAT is {v}"],
    "secret.slack_token": ["SLACK_BOT_TOKEN={v}", "post to {v} when the build breaks"],
    "secret.stripe_key": ["stripe.api_key = '{v}'", "Why does {v} return 401?"],
    "secret.openai_key": ["OPENAI_API_KEY={v}", "client = OpenAI(api_key=\"{v}\")"],
    "secret.jwt": ["Authorization: Bearer {v}", "the cookie session={v} expired"],
    "secret.private_key": ["My deploy key:\n{v}\nwhy does ssh reject it?", "{v}"],
    "secret.generic_api_key": ["api_key = \"{v}\"", "config: {{ apiKey: '{v}' }}", "MAILGUN_API_KEY={v}", "client_secret: {v}", "password={v}"],
}


def secret_records(rng, n):
    out = []
    kinds = list(SECRET_TEMPLATES)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        v = secret_value(rng, kind)
        if kind == "secret.generic_api_key":
            # make sure it has letters and digits
            v = v[:-2] + rng.choice(string.digits) + rng.choice(string.ascii_letters)
        t = rng.choice(SECRET_TEMPLATES[kind])
        pre, post = t.split("{v}")
        pre = pre.replace("{{", "{").replace("}}", "}")
        post = post.replace("{{", "{").replace("}}", "}")
        b = Builder()
        b.add(pre)
        b.add(v, kind)
        b.add(post)
        text, spans = b.done()
        out.append({"id": f"secret-{i:05d}", "group": "secret", "text": text, "spans": spans})
    return out


def luhn_ok(digits):
    s = 0
    for i, ch in enumerate(reversed(digits)):
        x = int(ch)
        if i % 2 == 1:
            x *= 2
            if x > 9:
                x -= 9
        s += x
    return s % 10 == 0


def negative_records(rng, fake, n):
    def bad_card():
        while True:
            num = fake.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex"]))
            last = int(num[-1])
            num = num[:-1] + str((last + rng.randint(1, 9)) % 10)
            if not luhn_ok(num):
                return rng.choice([num, " ".join(num[i:i + 4] for i in range(0, len(num), 4))])

    def reference():
        # Long reference numbers that are not card numbers (they fail Luhn).
        while True:
            num = str(rng.randint(10**12, 10**16))
            if not luhn_ok(num):
                return num

    def bad_iban():
        v = Faker("de_DE").iban()
        check = (int(v[2:4]) + rng.randint(1, 50)) % 100
        return v[:2] + f"{check:02d}" + v[4:]

    gens = [
        lambda: f"Order #{rng.randint(100000, 99999999)} shipped on {fake.date()}.",
        lambda: f"Your order ORD-{fake.year()}-{rng.randint(0, 999999):06d} is on its way.",
        lambda: f"Invoice INV{rng.randint(10**9, 10**10 - 1)} is due.",
        lambda: f"Logged at {fake.iso8601()} with status 200.",
        lambda: f"Meeting at {fake.date()} {fake.time()} in room {rng.randint(100, 999)}.",
        lambda: f"Timestamp {rng.randint(1_600_000_000, 1_800_000_000)} ({rng.randint(1_600_000_000_000, 1_800_000_000_000)} ms).",
        lambda: f"Upgrade to v{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} for the fix.",
        lambda: f"Build {rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(1000, 30000)}.{rng.randint(1, 9999)} is out.",
        lambda: f"Kernel {rng.randint(2, 6)}.{rng.randint(0, 19)}.{rng.randint(0, 200)}-{rng.randint(1, 99)}-generic",
        lambda: f"The card number {bad_card()} was rejected as invalid.",
        lambda: f"Test account {bad_iban()} (wrong checksum).",
        lambda: f"Tracking 1Z{rand(rng, AZ09, 16)} via UPS.",
        lambda: f"Request id {fake.uuid4()} failed.",
        lambda: f"Commit {rand(rng, '0123456789abcdef', 40)} fixed it.",
        lambda: f"sha256: {rand(rng, '0123456789abcdef', 64)}",
        lambda: f"ISBN 978-{rng.randint(0, 9)}-{rng.randint(10, 99)}-{rng.randint(100000, 999999)}-{rng.randint(0, 9)}",
        lambda: f"Total ${rng.randint(1, 99)},{rng.randint(100, 999)}.{rng.randint(10, 99)} paid.",
        lambda: f"Coordinates {fake.latitude()}, {fake.longitude()}.",
        lambda: f"MAC {fake.mac_address()} joined the network.",
        lambda: f"Part number {rand(rng, AZ09, 4)}-{rng.randint(1000, 9999)}-{rand(rng, AZ09, 3)} is out of stock.",
        lambda: f"Call extension {rng.randint(100, 9999)} or room {rng.randint(1, 40)}-{rng.randint(100, 999)}.",
        lambda: f"Score was {rng.randint(0, 200)}-{rng.randint(0, 200)} at {fake.time()}.",
        lambda: f"Population {rng.randint(1000, 9_999_999):,} in {fake.year()}.",
        lambda: "api_key = your_api_key_here",
        lambda: "password: changeme123",
        lambda: "token: <YOUR_TOKEN>",
        lambda: f"Set API_KEY=${{{rand(rng, string.ascii_uppercase, 8)}}} in .env",
        lambda: f"The secret ingredient is {fake.word()}.",
        lambda: f"Use sk-learn {rng.randint(0, 1)}.{rng.randint(0, 5)} for the model.",
        lambda: f"Product code AKIA{rng.randint(100, 999)} is discontinued.",
        lambda: fake.sentence(nb_words=rng.randint(6, 20)),
        lambda: fake.paragraph(nb_sentences=3),
        lambda: f"Reference {reference()} in your statement.",
        lambda: f"Product id {rng.randint(10**5, 10**6)}, batch {rng.randint(10, 99)}-{rng.randint(1000, 9999)}.",
    ]
    out = []
    for i in range(n):
        text = gens[i % len(gens)]()
        out.append({"id": f"neg-{i:05d}", "group": "negative", "text": text, "spans": []})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "testdata/guard/corpus.jsonl")
    ap.add_argument("--pii", type=int, default=3000)
    ap.add_argument("--secrets", type=int, default=1000)
    ap.add_argument("--negatives", type=int, default=1700)
    args = ap.parse_args()

    rng = random.Random(SEED)
    Faker.seed(SEED)
    fake = Faker("en_US")
    templates = [
        # The template file writes line breaks and commas inside addresses as "\\n" and "\\,".
        l.strip().replace("\\n", "\n").replace("\\,", ",")
        for l in args.templates.read_text(encoding="utf-8", errors="replace").splitlines()
        if l.strip()
    ]
    records = pii_records(templates, rng, fake, args.pii) + secret_records(rng, args.secrets) + negative_records(rng, fake, args.negatives)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    kinds = {}
    for r in records:
        for s in r["spans"]:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    print(f"wrote {len(records)} records to {args.out}")
    for k in sorted(kinds):
        print(f"  {k:32} {kinds[k]}")


if __name__ == "__main__":
    main()
