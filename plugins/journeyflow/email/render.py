"""Email rendering: Jinja2 templates per language, German salutations, and the MIME message.

Templates live in ``email_templates/<lang>/<campaign>/<step>.{subject,html,txt}.j2`` and extend
``email_templates/<lang>/layout.{html,txt}.j2``. A language without its own template falls back to
German. Variant ``b`` of a step reads ``<step>.b.<part>.j2`` where it exists and the step's own
part where not. HTML is autoescaped; a variable the template needs but the context lacks is an error
(``StrictUndefined``), found by ``journeyflow templates check`` before any customer sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
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

from journeyflow.config import load_config, paths
from journeyflow.config.model import MAIN_VARIANT
from journeyflow.email.mime import build_message, clean, message_id

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
KINDS = ("subject", "html", "txt")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip


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
        value = value.astimezone(load_config().tz).date()
    if lang == "en":
        return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"
    return value.strftime("%d.%m.%Y")


def _render(tpl: Template, values: dict[str, Any]) -> str:
    """``tpl.render(values)`` for ``values`` that hold the environment's globals: its context
    takes them as they are (``shared``) instead of copying the globals and the values again."""
    context = tpl.new_context(values, shared=True)
    try:
        return tpl.environment.concat(tpl.root_render_func(context))  # type: ignore[attr-defined]
    except Exception:
        tpl.environment.handle_exception()  # raises, with the template's line in the traceback


class Renderer:
    """Renders campaign emails; templates are compiled once and kept."""

    def __init__(
        self, templates_dir: Any = None, keys: Any = None, unsubscribe_base: str | None = None
    ) -> None:
        self.cfg = load_config().campaigns
        self.templates_dir = templates_dir or paths.TEMPLATES_DIR
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
        self._globals = dict(self.env.globals)
        self._templates: dict[tuple[str, str, int, str, str], Template] = {}
        self._translated: dict[tuple[str, str, int], bool] = {}
        self._keys = keys
        self._unsubscribe_base = unsubscribe_base
        self._brand = {"name": "", "url": "", "support_email": "", "sender_name": "",
                       "imprint": []} | self.cfg.brand  # fmt: skip
        self._brands: dict[str, SimpleNamespace] = {}
        self._links: dict[tuple[str, int, str], dict[str, str]] = {}
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

    def template(
        self, lang: str, campaign: str, step: int, kind: str, variant: str = MAIN_VARIANT
    ) -> Template:
        key = (lang, campaign, step, kind, variant)
        if key not in self._templates:
            tried = []
            for language in dict.fromkeys((lang, DEFAULT_LANGUAGE)):
                own = [] if variant == MAIN_VARIANT else [f"{step}.{variant}.{kind}"]
                for name in [
                    f"{language}/{campaign}/{part}.j2" for part in (*own, f"{step}.{kind}")
                ]:
                    tried.append(name)
                    try:
                        self._templates[key] = self.env.get_template(name)
                        break
                    except TemplateNotFound:
                        continue
                if key in self._templates:
                    break
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
            from journeyflow.unsubscribe.keys import load_keys

            self._keys = load_keys()
        return self._keys

    def unsubscribe_base(self) -> str:
        """Where the links point (connection journeyflow_unsubscribe, else the config)."""
        if self._unsubscribe_base is None:
            from journeyflow.unsubscribe.links import base_url

            self._unsubscribe_base = base_url()
        return self._unsubscribe_base

    def links(
        self, campaign: str, step: int, contact_id: str, variant: str = MAIN_VARIANT
    ) -> dict[str, str]:
        from journeyflow.unsubscribe.tokens import make_token, unsubscribe_url

        key = (campaign, step, variant)
        if key not in self._links:  # the same for every recipient of a step
            base = str(self._brand["url"]).rstrip("/")
            content = f"step{step}" + ("" if variant == MAIN_VARIANT else f"-{variant}")
            track = urlencode({"utm_source": "journeyflow", "utm_medium": "email",
                               "utm_campaign": campaign, "utm_content": content})  # fmt: skip
            self._links[key] = {
                "shop": f"{base}/?{track}",
                "review": f"{base}/bewertungen/?{track}",
                "help": f"{base}/hilfe/?{track}",
            }
        token = make_token(contact_id, campaign, self.keys())
        return self._links[key] | {"unsubscribe": unsubscribe_url(self.unsubscribe_base(), token)}

    def context(
        self, r: Recipient, campaign: str, step: int, run_date: date, variant: str = MAIN_VARIANT
    ) -> dict[str, Any]:
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
            "links": SimpleNamespace(**self.links(campaign, step, r.contact_id, variant)),
            "campaign": campaign,
            "step": step,
            "variant": variant,
            "lang": lang,
        }

    def render(
        self, r: Recipient, campaign: str, step: int, run_date: date, variant: str = MAIN_VARIANT
    ) -> dict[str, str]:
        """Subject, text and HTML of one email (of a variant of the step)."""
        ctx = self.context(r, campaign, step, run_date, variant)
        # what Template.render builds for each of the three parts, built once: the globals and
        # the context in one dict, shared by the parts' contexts (no template writes to it)
        values = self._globals | ctx
        out = {}
        for kind in KINDS:
            tpl = self.template(ctx["lang"], campaign, step, kind, variant)
            try:
                out[kind] = _render(tpl, values)
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
        variant: str | None = None,
    ) -> tuple[str, str]:
        """(Message-ID, the full message) for one outbox row."""
        variant = variant or MAIN_VARIANT
        parts = self.render(r, campaign, step, run_date, variant)
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
            when=when or datetime.now(load_config().tz),
            variant=variant,
        )
        return msg_id, body
