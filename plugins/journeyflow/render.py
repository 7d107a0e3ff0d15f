"""Email rendering: Jinja2 templates per language, German salutations, and the MIME message.

Templates live in ``email_templates/<lang>/<campaign>/<step>.{subject,html,txt}.j2`` and extend
``email_templates/<lang>/layout.{html,txt}.j2``. A language without its own template falls back to
German. HTML is autoescaped; a variable the template needs but the context lacks is an error
(``StrictUndefined``), found by ``journeyflow templates check`` before any customer sees it.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
    select_autoescape,
)

from journeyflow import settings

TEMPLATES_DIR = settings.REPO_ROOT / "email_templates"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
KINDS = ("subject", "html", "txt")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class TemplateError(RuntimeError):
    """A template is missing or cannot render; the message names the file."""


@dataclass(frozen=True)
class Recipient:
    """What rendering needs to know about one contact (from contacts and contact_facts)."""

    contact_id: str
    email: str
    language: str | None = None
    salutation: str | None = None
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    city: str | None = None
    order_count: int = 0
    first_product: str | None = None
    last_product: str | None = None
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None


def clean(value: str | None) -> str | None:
    """One line of text: control characters (CR, LF, ...) become spaces, ends trimmed."""
    if value is None:
        return None
    value = _CONTROL.sub(" ", value).strip()
    return value or None


def greeting(r: Recipient, lang: str, tone: str) -> str:
    """The salutation line, e.g. "Sehr geehrte Frau Dr. Müller," or "Hallo Jonas,"."""
    first, last, title = clean(r.first_name), clean(r.last_name), clean(r.title)
    formal = tone == "formal"
    if lang == "en":
        if not formal:
            return f"Hi {first}," if first else "Hello,"
        if last and title:
            return f"Dear {'Professor' if 'Prof' in title else 'Dr'} {last},"
        if last and r.salutation in ("Frau", "Herr"):
            return f"Dear {'Ms' if r.salutation == 'Frau' else 'Mr'} {last},"
        name = " ".join(p for p in (first, last) if p)
        return f"Dear {name}," if name else "Hello,"
    if not formal:
        return f"Hallo {first}," if first else "Hallo,"
    if last and r.salutation == "Frau":
        return f"Sehr geehrte Frau {title + ' ' if title else ''}{last},"
    if last and r.salutation == "Herr":
        return f"Sehr geehrter Herr {title + ' ' if title else ''}{last},"
    name = " ".join(p for p in (title, first, last) if p)
    return f"Guten Tag {name}," if name else "Guten Tag,"


def wordwrap(
    s: str,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's ``wordwrap`` for plain-text mails, without textwrap's cost (it was half the
    rendering time). Wraps at spaces only; a word longer than the line (a URL) stays whole."""
    out = []
    for line in s.splitlines():
        if len(line) <= width:
            out.append(line.rstrip())
            continue
        indent = line[: len(line) - len(line.lstrip(" "))]
        current = indent
        for word in line.split():
            if current.strip() and len(current) + 1 + len(word) > width:
                out.append(current)
                current = indent + word
            else:
                current = f"{current} {word}" if current.strip() else current + word
        out.append(current)
    return (wrapstring or "\n").join(out)


def format_date(value: date | datetime | None, lang: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(settings.load_config().tz).date()
    if lang == "en":
        return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"
    return value.strftime("%d.%m.%Y")


def _qp(body: str) -> str:
    """Quoted-printable with CRLF line ends (ASCII out, so the message is plain text)."""
    data = body.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).decode("ascii")


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")


def message_id(contact_id: str, campaign: str, step: int, occurrence: int, domain: str) -> str:
    """Stable per (contact, campaign, step, occurrence); the contact id only as a hash."""
    digest = hashlib.sha256(contact_id.encode("utf-8")).hexdigest()[:24]
    return f"<{campaign}.{step}.{occurrence}.{digest}@{domain}>"


def build_message(
    *,
    sender: str,
    recipient: str,
    recipient_name: str | None,
    subject: str,
    text: str,
    html: str,
    msg_id: str,
    campaign: str,
    step: int,
    unsubscribe_url: str,
    lang: str,
    when: datetime,
) -> str:
    """An RFC 5322 message (multipart/alternative, quoted-printable, CRLF), as ASCII text."""
    boundary = "=_jf_" + hashlib.sha1(msg_id.encode()).hexdigest()[:24]
    to = formataddr((clean(recipient_name) or "", recipient), charset="utf-8")
    sender_name, sender_address = parseaddr(sender)
    headers = [
        f"From: {formataddr((sender_name, sender_address), charset='utf-8')}",
        f"To: {to}",
        f"Subject: {_header(clean(subject) or '')}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {msg_id}",
        "MIME-Version: 1.0",
        f"Content-Language: {lang}",
        f"List-Unsubscribe: <{unsubscribe_url}>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f"X-Campaign: {campaign}",
        f"X-Campaign-Step: {step}",
        "Precedence: bulk",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    part = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
    return (
        "\r\n".join(headers)
        + f"\r\n\r\n--{boundary}\r\n{part.format('plain')}\r\n\r\n{_qp(text)}"
        + f"\r\n--{boundary}\r\n{part.format('html')}\r\n\r\n{_qp(html)}"
        + f"\r\n--{boundary}--\r\n"
    )


class Renderer:
    """Renders campaign emails; templates are compiled once and kept."""

    def __init__(self, templates_dir: Any = None, keys: Any = None) -> None:
        self.cfg = settings.load_config().campaigns
        self.templates_dir = templates_dir or TEMPLATES_DIR
        self.env = Environment(
            loader=FileSystemLoader(str(self.templates_dir)),
            autoescape=select_autoescape(["html.j2"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.env.filters["wordwrap"] = wordwrap
        self._templates: dict[tuple[str, str, int, str], Template] = {}
        self._translated: dict[tuple[str, str, int], bool] = {}
        self._keys = keys
        self._brand = {"name": "", "url": "", "support_email": "", "sender_name": "",
                       "imprint": []} | self.cfg.brand  # fmt: skip
        self._brands: dict[str, SimpleNamespace] = {}
        self.from_address = self.cfg.sender.from_address

    def brand(self, lang: str) -> SimpleNamespace:
        """Brand values; a value given per language ({de: ..., en: ...}) is picked for ``lang``."""
        if lang not in self._brands:
            self._brands[lang] = SimpleNamespace(**{
                k: (v.get(lang) or v.get(DEFAULT_LANGUAGE)) if isinstance(v, dict) else v
                for k, v in self._brand.items()
            })  # fmt: skip
        return self._brands[lang]

    def with_sender(self, from_address: str) -> Renderer:
        self.from_address = from_address
        return self

    def template(self, lang: str, campaign: str, step: int, kind: str) -> Template:
        key = (lang, campaign, step, kind)
        if key not in self._templates:
            tried = []
            for language in dict.fromkeys((lang, DEFAULT_LANGUAGE)):
                name = f"{language}/{campaign}/{step}.{kind}.j2"
                tried.append(name)
                try:
                    self._templates[key] = self.env.get_template(name)
                    break
                except TemplateNotFound:
                    continue
            else:
                raise TemplateError(
                    f"no template email_templates/{tried[-1]} (tried {', '.join(tried)}); "
                    f"add it for campaign {campaign} step {step}"
                )
        return self._templates[key]

    def language(self, lang: str | None, campaign: str, step: int) -> str:
        """The contact's language when the step has templates in it, else German."""
        if lang in LANGUAGES and lang != DEFAULT_LANGUAGE:
            key = (lang, campaign, step)
            if key not in self._translated:
                name = f"{lang}/{campaign}/{step}.subject.j2"
                self._translated[key] = name in self.env.list_templates(filter_func=name.__eq__)
            if self._translated[key]:
                return lang
        return DEFAULT_LANGUAGE

    def keys(self) -> Any:
        if self._keys is None:
            from journeyflow import unsubscribe

            self._keys = unsubscribe.load_keys()
        return self._keys

    def links(self, campaign: str, step: int, contact_id: str) -> dict[str, str]:
        from journeyflow import unsubscribe

        base = str(self._brand["url"]).rstrip("/")
        track = urlencode(
            {
                "utm_source": "journeyflow",
                "utm_medium": "email",
                "utm_campaign": campaign,
                "utm_content": f"step{step}",
            }  # fmt: skip
        )
        token = unsubscribe.make_token(contact_id, campaign, self.keys())
        return {
            "shop": f"{base}/?{track}",
            "review": f"{base}/bewertungen/?{track}",
            "help": f"{base}/hilfe/?{track}",
            "unsubscribe": unsubscribe.unsubscribe_url(self.cfg.unsubscribe_url, token),
        }

    def context(self, r: Recipient, campaign: str, step: int, run_date: date) -> dict[str, Any]:
        camp = self.cfg.get(campaign)
        lang = self.language(r.language, campaign, step)
        offer = None
        if camp.offer is not None:
            offer = SimpleNamespace(
                code=camp.offer.code,
                percent=camp.offer.percent,
                valid_until=format_date(run_date + timedelta(days=camp.offer.valid_days), lang),
            )
        return {
            "greeting": greeting(r, lang, camp.tone),
            "contact": SimpleNamespace(
                first_name=clean(r.first_name),
                last_name=clean(r.last_name),
                title=clean(r.title),
                salutation=r.salutation,
                city=clean(r.city),
            ),  # fmt: skip
            "facts": SimpleNamespace(
                order_count=r.order_count or 0,
                first_product=clean(r.first_product),
                last_product=clean(r.last_product),
                first_order_date=format_date(r.first_order_at, lang),
                last_order_date=format_date(r.last_order_at, lang),
            ),
            "offer": offer,
            "brand": self.brand(lang),
            "links": SimpleNamespace(**self.links(campaign, step, r.contact_id)),
            "campaign": campaign,
            "step": step,
            "lang": lang,
        }

    def render(self, r: Recipient, campaign: str, step: int, run_date: date) -> dict[str, str]:
        """Subject, text and HTML of one email."""
        ctx = self.context(r, campaign, step, run_date)
        out = {}
        for kind in KINDS:
            tpl = self.template(ctx["lang"], campaign, step, kind)
            try:
                out[kind] = tpl.render(ctx)
            except Exception as exc:
                raise TemplateError(f"email_templates/{tpl.name}: {exc}") from exc
        out["subject"] = " ".join(out["subject"].split())
        out["lang"] = ctx["lang"]
        out["unsubscribe"] = ctx["links"].unsubscribe
        return out

    def message(
        self,
        r: Recipient,
        campaign: str,
        step: int,
        occurrence: int,
        run_date: date,
        when: datetime | None = None,
    ) -> tuple[str, str]:
        """(Message-ID, the full message) for one outbox row."""
        parts = self.render(r, campaign, step, run_date)
        msg_id = message_id(r.contact_id, campaign, step, occurrence, self.cfg.message_id_domain)
        name = " ".join(p for p in (clean(r.first_name), clean(r.last_name)) if p)
        body = build_message(
            sender=self.from_address,
            recipient=r.email,
            recipient_name=name,
            subject=parts["subject"],
            text=parts["txt"],
            html=parts["html"],
            msg_id=msg_id,
            campaign=campaign,
            step=step,
            unsubscribe_url=parts["unsubscribe"],
            lang=parts["lang"],
            when=when or datetime.now(settings.load_config().tz),
        )
        return msg_id, body


def sample_recipients() -> list[Recipient]:
    """Contacts for ``templates check``: full, sparse and hostile, in every language."""
    full = dict(
        contact_id="sample-1", email="anna.mueller@example.org", salutation="Frau", title="Dr.",
        first_name="Anna", last_name="Müller", city="Dresden", order_count=3,
        first_product="Einsteigerkurs Fotografie", last_product="Stativ Pro",
        first_order_at=datetime(2026, 1, 5, 10, 0, tzinfo=settings.load_config().tz),
        last_order_at=datetime(2026, 9, 1, 18, 30, tzinfo=settings.load_config().tz),
    )  # fmt: skip
    sparse = dict(contact_id="sample-2", email="x@example.org")
    hostile = dict(
        contact_id="sample-3", email="h@example.org", salutation="Herr",
        first_name="<script>alert(1)</script>", last_name="{{7*7}}", last_product="{{7*7}}",
    )  # fmt: skip
    return [
        Recipient(**{**person, "language": lang})
        for lang in LANGUAGES
        for person in (full, sparse, hostile)
    ]


def check_templates(templates_dir: Any = None) -> list[str]:
    """Render every campaign step in every language for the sample contacts; list the errors."""
    from journeyflow import unsubscribe

    renderer = Renderer(templates_dir, keys=unsubscribe.parse_keys("check:" + "x" * 32, "check"))
    root = Path(renderer.templates_dir)
    errors = []
    for camp in renderer.cfg.campaigns:
        if "email" not in camp.channels:
            continue
        for step, _ in camp.steps:
            for lang in LANGUAGES:  # a language has all three parts of a step, or none
                names = [f"{lang}/{camp.name}/{step}.{kind}.j2" for kind in KINDS]
                missing = [n for n in names if not (root / n).is_file()]
                if 0 < len(missing) < len(names):
                    errors.append(
                        f"{camp.name} step {step} ({lang}): email_templates/{missing[0]} is "
                        "missing while the other parts are there (the email would mix languages)"
                    )
            for r in sample_recipients():
                where = f"{camp.name} step {step} ({r.language}, {r.contact_id})"
                try:
                    parts = renderer.render(r, camp.name, step, date(2026, 11, 1))
                    renderer.message(r, camp.name, step, 1, date(2026, 11, 1))
                except Exception as exc:  # report every broken template, not just the first
                    errors.append(f"{where}: {exc}")
                    continue
                for kind in ("txt", "html"):
                    if parts["unsubscribe"] not in parts[kind]:
                        errors.append(f"{where}: the {kind} part has no visible unsubscribe link")
    return sorted(set(errors))
