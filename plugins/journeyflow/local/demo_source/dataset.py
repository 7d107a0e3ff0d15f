"""A deterministic synthetic shop: German customers, their consents and their behaviour.

Every contact's whole timeline follows from (seed, index) alone, relative to an anchor date A, so
pages can be produced in any order without holding the dataset in memory. Timelines reach 30 days
past A; a clock hides what has not happened yet, so moving the clock forward reveals a delta.
Personas are mixed so that, as of A, every lifecycle phase of the default rulebook has members.

Most of a shop's traffic is anonymous: next to each contact index browse a few visitors known only
by an ``anonymous_id`` (mostly flybys who never sign up). For some contacts one visitor browsed
before signing up and an ``identify`` event links it to the contact; a few contacts identify a
second device later, and a rare contact identifies a visitor that already belongs to someone else
(which the pipeline quarantines). The visitors come from a random stream of their own, so the
contacts and their events do not depend on them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = 86400.0

FIRST_F = ["Anna", "Jürgen", "Sophie", "Jonas", "Marie", "Lukas", "Hannah", "Björn", "Lea",
           "Felix", "Zoë", "Max", "Mia", "Sören", "Emilia", "Paul", "Käthe", "Elias", "Greta",
           "Noah", "Ines", "Jörg", "Lina", "Ömer"]  # fmt: skip
FEMALE = {"Anna", "Sophie", "Marie", "Hannah", "Lea", "Zoë", "Mia", "Emilia", "Käthe", "Greta",
          "Ines", "Lina"}  # fmt: skip
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Meyer", "Wagner", "Becker",
        "Schäfer", "Koch", "Bauer", "Größer", "Hoffmann", "Schröder", "Krüger", "Jäger",
        "Groß", "Köhler", "Lehmann", "Öztürk", "Dr. h.c. Brandt", "Nguyễn"]  # fmt: skip
STREETS = ["Hauptstraße", "Schulstraße", "Gartenweg", "Bahnhofstraße", "Lindenallee",
           "Am Mühlbach", "Königsstraße", "Schloßplatz", "Dorfstraße", "Rosenweg"]  # fmt: skip
CITIES = {
    "DE": [("01067", "Dresden"), ("10115", "Berlin"), ("20095", "Hamburg"), ("80331", "München"),
           ("50667", "Köln"), ("04109", "Leipzig"), ("70173", "Stuttgart"), ("90402", "Nürnberg"),
           ("99084", "Erfurt"), ("06108", "Halle (Saale)")],
    "AT": [("1010", "Wien"), ("5020", "Salzburg"), ("6020", "Innsbruck"), ("8010", "Graz")],
    "CH": [("8001", "Zürich"), ("3011", "Bern"), ("1201", "Genève"), ("4051", "Basel")],
}  # fmt: skip
PRODUCTS = [("Einsteigerkurs Fotografie", 9.0), ("Objektiv-Reinigungsset", 19.9),
            ("Stativ Pro", 89.0), ("Fotokurs Komplett", 249.0), ("Kameratasche", 59.5),
            ("Jahresabo Fotomagazin", 79.0)]  # fmt: skip
TITLES = [None] * 12 + ["Dr.", "Prof. Dr."]
CONSENT_SOURCES = ["newsletter-form", "checkout", "gewinnspiel", "import-2023"]
CONSENT_TEXT = ("Ja, ich möchte den Newsletter mit Angeboten per E-Mail erhalten. "
                "Abmeldung jederzeit möglich.")  # fmt: skip

# persona -> weight; chosen so that every phase of the default rulebook has members as of A
PERSONAS = [
    ("awareness", 18), ("engagement", 12), ("subscription", 6), ("conversion", 14),
    ("excitement", 8), ("ascension", 16), ("advocate", 7), ("promoter", 5), ("at_risk", 14),
]  # fmt: skip
_PERSONA_NAMES = [p for p, w in PERSONAS for _ in range(w)]
FUTURE_DAYS = 30

# flybys per contact index (2 on average), with 5.5 page views each on average
_VISITORS = [1, 2, 2, 3, 3, 3, 4, 4, 5, 5]  # flybys next to a contact (3.2 on average)
PAGES = ["/", "/produkte", "/produkte/stativ-pro", "/produkte/kameratasche",
         "/produkte/objektiv-reinigungsset", "/kurse", "/kurse/einsteigerkurs-fotografie",
         "/kurse/fotokurs-komplett", "/abo/fotomagazin", "/blog/licht-und-schatten",
         "/blog/reisefotografie", "/warenkorb", "/kontakt"]  # fmt: skip
IDENTIFIED_SHARE = 0.4  # contacts whose first visit, before signing up, is known
SECOND_DEVICE_SHARE = 0.05  # of the identified: a second visitor identified later
VISITOR_DAYS = 400  # flybys browse from this many days before A until FUTURE_DAYS after it
RECENT_DAYS = 60  # most flybys come and go: their visits start in the last 60 days before A
RECENT_SHARE = 0.8


@dataclass
class Timeline:
    """One contact's history: its versions (as change times) and its events."""

    index: int
    contact: dict  # the record as of the end of time; see DemoDataset.contact_as_of
    created: float
    confirmed: float | None
    moved: float | None  # when the address changed (old address before)
    old_address: dict | None
    events: list  # (epoch, id, type, properties, contact_id)
    # anonymous traffic: (epoch, id, type, properties, contact_id or None, anonymous_id)
    visits: list = field(default_factory=list)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class DemoDataset:
    def __init__(self, contacts: int = 5000, anchor: date | None = None, seed: int = 42,
                 timezone: str = "Europe/Berlin",
                 extra: dict[str, list] | None = None):  # fmt: skip
        self.size = contacts
        self.extra = extra or {}  # contact id -> more events (the demo's simulated responses)
        self.anchor = anchor or date.today() - timedelta(days=1)
        self.seed = seed
        tz = ZoneInfo(timezone)
        self.t_anchor = datetime.combine(
            self.anchor + timedelta(days=1), time(0), tzinfo=tz
        ).timestamp()

    # -- timelines -------------------------------------------------------------------------------
    def timeline(self, i: int) -> Timeline:
        rng = random.Random(self.seed * 1_000_003 + i)
        T = self.t_anchor
        cid = f"C{i + 1:07d}"
        persona = rng.choice(_PERSONA_NAMES)
        if rng.random() < 0.03:  # joins after A: only a later clock shows them
            created = T + rng.uniform(0.1, FUTURE_DAYS) * DAY
        elif persona == "subscription":
            created = T - rng.uniform(1, 13.5) * DAY
        else:
            created = T - rng.uniform(20, 900) * DAY
        first = rng.choice(FIRST_F)
        female = first in FEMALE
        last = rng.choice(LAST)
        country = rng.choices(["DE", "AT", "CH"], weights=[85, 9, 6])[0]
        plz, city = rng.choice(CITIES[country])
        address = {"street": rng.choice(STREETS), "house_number": str(rng.randint(1, 180)) +
                   rng.choice(["", "", "", "a", "b"]), "postal_code": plz, "city": city,
                   "country": country}  # fmt: skip
        if rng.random() < 0.06:  # missing parts of the address
            address[rng.choice(["street", "house_number", "postal_code", "city"])] = None
        lang = "de" if country != "CH" or rng.random() < 0.7 else "en"
        if rng.random() < 0.08:
            lang = "en"
        tld = "de" if country == "DE" else country.lower()
        email = f"{_ascii(first)}.{_ascii(last)}{i}@example.{tld}"
        if rng.random() < 0.01:
            email = email.replace("@", " at ")  # a broken address typed into a form
        elif rng.random() < 0.02:
            email = None
        salutation = rng.choices(
            ["Frau" if female else "Herr", "Divers", None], weights=[90, 2, 8]
        )[0]
        events: list = []
        n = 0

        def add(t: float, kind: str, props: dict | None = None, contact: str = cid) -> None:
            nonlocal n
            if t < created:
                t = created + rng.uniform(60, 3600)
            events.append((t, f"E{i + 1:07d}-{n:03d}", kind, props or {}, contact))
            n += 1

        def browse(lo: float, hi: float, count: int) -> None:
            for _ in range(count):
                add(
                    T - rng.uniform(lo, hi) * DAY,
                    rng.choices(
                        ["page_view", "email_open", "email_click", "comment"], weights=[6, 3, 2, 1]
                    )[0],
                )

        def buy(day: float) -> None:
            product, price = rng.choice(PRODUCTS)
            add(T - day * DAY, "purchase", {"order_id": f"O{i + 1:07d}-{n:03d}", "amount": price,
                                            "currency": "CHF" if country == "CH" else "EUR",
                                            "product": product})  # fmt: skip

        # consent: who confirmed double opt-in, and when
        confirmed = None
        status = rng.choices(["confirmed", "pending", "none"], weights=[60, 15, 25])[0]
        if persona in ("subscription", "conversion"):
            status = "confirmed"
        if persona == "engagement":
            status = rng.choice(["pending", "none", "revoked"])
        if status in ("confirmed", "revoked"):
            if persona == "subscription":
                confirmed = max(created + 600, T - rng.uniform(0.2, 13.5) * DAY)
            elif persona == "conversion":
                confirmed = created + rng.uniform(0.01, 2) * DAY
                confirmed = min(confirmed, T - 15 * DAY)
            else:
                confirmed = created + rng.uniform(0.01, 3) * DAY
            add(confirmed - 120, "newsletter_signup")
        age = (T - created) / DAY
        if persona == "awareness":
            browse(0, min(age, 400), rng.randint(0, 6))
        elif persona == "engagement":
            browse(0, min(age, 120), rng.randint(8, 16))
            if rng.random() < 0.3:
                add(T - rng.uniform(1, 60) * DAY, "comment")
        elif persona in ("subscription", "conversion"):
            browse(0, min(age, 200), rng.randint(3, 10))
        elif persona == "excitement":
            buy(rng.uniform(0.05, 29))
            browse(0, min(age, 60), rng.randint(4, 12))
        elif persona in ("ascension", "advocate", "promoter"):
            orders = rng.randint(1, 2) if persona == "ascension" else rng.randint(3, 6)
            first_day = rng.uniform(40, min(max(age, 41), 500))
            buy(first_day)
            for _ in range(orders - 1):
                buy(rng.uniform(1, first_day))
            browse(0, 80, rng.randint(4, 12))
            if persona == "advocate":
                for _ in range(rng.randint(1, 3)):
                    add(T - rng.uniform(1, 300) * DAY, "review", {"rating": rng.choice([4, 5, 5])})
            if persona == "promoter":
                ref = f"C{rng.randint(1, self.size):07d}"
                add(T - rng.uniform(1, 300) * DAY, "referral", {"referred_contact_id": ref})
        elif persona == "at_risk":
            last_order = rng.uniform(185, min(max(age, 186), 700))
            buy(last_order)
            if rng.random() < 0.4:
                buy(last_order + rng.uniform(5, 60))
            browse(95, min(max(age, 100), 700), rng.randint(4, 10))
            if rng.random() < 0.25:
                add(T - rng.uniform(100, 180) * DAY, "review", {"rating": rng.randint(1, 5)})

        # edge cases on top of the personas
        r = rng.random()
        if r < 0.05 and confirmed:
            add(
                T - rng.uniform(1, 200) * DAY,
                "email_bounce",
                {"kind": rng.choice(["hard", "soft"])},
            )
        elif r < 0.08:
            add(T - rng.uniform(1, 300) * DAY, "payment_overdue", {"order_id": f"O{i + 1:07d}-x"})
        elif r < 0.10:
            add(T - rng.uniform(1, 300) * DAY, "review", {"rating": rng.randint(1, 2)})
        elif r < 0.12 and confirmed:
            add(T - rng.uniform(1, 100) * DAY, "unsubscribe", {"channel": "email"})
        elif r < 0.13:
            add(T - rng.uniform(1, 100) * DAY, "unsubscribe", {"channel": "postal"})
        elif r < 0.15:
            add(T - rng.uniform(1, 100) * DAY, "postal_return")
        # life goes on after A: what later runs will pull as their delta
        for _ in range(rng.choices([0, 1, 2], weights=[50, 35, 15])[0]):
            add(T + rng.uniform(0.01, FUTURE_DAYS) * DAY, rng.choice(["page_view", "email_open"]))
        if persona == "at_risk" and rng.random() < 0.1:  # a lapsed customer who comes back
            buy(-rng.uniform(0.5, FUTURE_DAYS))
        # malformed records, as real exports have them
        if i % 997 == 500:
            events.append((T - 5 * DAY, f"E{i + 1:07d}-bad", "page_view", {}, cid, "not-a-date"))
        if i % 1499 == 700:
            add(T - 3 * DAY, "page_view", {}, contact=f"X{i + 1:07d}")  # unknown contact
        if i % 1999 == 900:
            add(
                T - 2 * DAY, "purchase", {"order_id": "O-bad", "amount": "19,90", "currency": "EUR"}
            )

        moved = old_address = None
        if rng.random() < 0.05:  # moved house: the address changes at `moved`
            moved = T - rng.uniform(-FUTURE_DAYS, 200) * DAY
            if moved > created:
                old_address = dict(address, street=rng.choice(STREETS), house_number="1")
            else:
                moved = None
        contact = {
            "id": cid,
            "email": email,
            "salutation": salutation,
            "title": rng.choice(TITLES),
            "first_name": first,
            "last_name": last,
            "company": "Müller & Söhne GmbH" if rng.random() < 0.05 else None,
            **address,
            "language": lang,
            "birthday": (date(1950, 1, 1) + timedelta(days=rng.randint(0, 18000))).isoformat()
            if rng.random() < 0.7
            else None,
            "email_consent": {
                "status": status,
                "confirmed_at": None,
                "source": rng.choice(CONSENT_SOURCES) if status != "none" else None,
                "ip": f"192.0.2.{rng.randint(1, 254)}" if status != "none" else None,
                "text": CONSENT_TEXT if status != "none" else None,
            },
            "postal_opt_out": rng.random() < 0.03,
            "created_at": iso(created),
            "updated_at": None,
        }
        if i % 2503 == 1000:
            contact["created_at"] = "31.12.2023"  # a date in the wrong format
        events.extend(self.extra.get(cid, ()))
        visits = self._visitors(i, cid, created)
        return Timeline(i, contact, created, confirmed, moved, old_address, events, visits)

    def _visitors(self, i: int, cid: str, created: float) -> list:
        """The anonymous visitors next to contact index i and their page views; those of them
        who signed up (or logged in) as contact i, with the ``identify`` linking them."""
        rng = random.Random(self.seed * 1_000_003 + i + (1 << 40))  # not the contact's stream
        rand, uniform = rng.random, rng.uniform
        T = self.t_anchor
        horizon = T + FUTURE_DAYS * DAY
        prefix = f"{i + 1:07d}"
        visits: list = []
        n = 0

        def browse(aid: str, t: float, count: int, step: int = 1) -> None:
            """``count`` page views from t on (``step=-1``: the views leading up to t), in
            visits of a few pages each."""
            nonlocal n
            for _ in range(count):
                if t >= horizon:
                    return
                path = PAGES[int(rand() * len(PAGES))]
                visits.append((t, f"V{prefix}-{n:03d}", "page_view", {"path": path}, None, aid))
                n += 1
                gap = 15 + rand() * 240
                if rand() < 0.3:  # the next page is another visit, hours or days apart
                    gap += (0.1 + rand() * 6) * DAY
                t += step * gap

        def identify(aid: str, t: float, key: str, method: str) -> None:
            visits.append((t, f"I{prefix}-{key}", "identify", {"method": method}, cid, aid))

        count = _VISITORS[int(rand() * len(_VISITORS))]
        for k in range(1, count + 1):  # flybys: never identified
            days = RECENT_DAYS if rand() < RECENT_SHARE else VISITOR_DAYS
            start = T - uniform(-FUTURE_DAYS, days) * DAY
            browse(f"A{prefix}-{k}", start, 1 + int(rand() * 8))
        if rand() < IDENTIFIED_SHARE:  # browsed before signing up, identified at the signup
            k = count + 1
            aid = f"A{prefix}-{k}"
            browse(aid, created - uniform(60, 1800), 1 + int(rand() * 5), step=-1)
            identify(aid, created + uniform(0, 300), str(k), "signup")
            if rand() < 0.5:  # logged out again, still browsing on this device
                browse(aid, created + uniform(1, 60) * DAY, 1 + int(rand() * 2))
            if rand() < SECOND_DEVICE_SHARE:  # a second device, identified at a login later
                k += 1
                aid = f"A{prefix}-{k}"
                login = min(created + uniform(1, 300) * DAY, horizon - 3600)
                browse(aid, login - uniform(600, 7200), 1 + int(rand() * 4), step=-1)
                identify(aid, login, str(k), "login")
        if i % 997 == 500:  # identifies a visitor who already belongs to another contact
            for j in range(i - 1, max(i - 997, -1), -1):
                theirs = [v for v in self.timeline(j).visits if v[2] == "identify"]
                if theirs:
                    t = max(theirs[0][0], created, T - 10 * DAY) + uniform(0.1, 5) * DAY
                    identify(theirs[0][5], t, "x", "login")
                    break
        return visits

    # -- views as of a clock ----------------------------------------------------------------------
    def contact_as_of(self, tl: Timeline, clock: float) -> dict | None:
        if tl.created >= clock:
            return None
        rec = dict(tl.contact)
        consent = dict(rec["email_consent"])
        updated = tl.created
        if tl.confirmed is not None:
            if tl.confirmed < clock:
                consent["confirmed_at"] = iso(tl.confirmed)
                updated = max(updated, tl.confirmed)
            else:
                consent["status"] = "pending"
        rec["email_consent"] = consent
        if tl.moved is not None:
            if tl.moved < clock:
                updated = max(updated, tl.moved)
            else:
                rec.update(tl.old_address)
        rec["updated_at"] = iso(updated)
        return rec

    def updated_at(self, tl: Timeline, clock: float) -> float:
        updated = tl.created
        for t in (tl.confirmed, tl.moved):
            if t is not None and t < clock:
                updated = max(updated, t)
        return updated

    def event_records(self, tl: Timeline, since: float, clock: float) -> list[dict]:
        out = []
        for ev in tl.events:
            t = ev[0]
            if since <= t < clock:
                stamp = ev[5] if len(ev) > 5 else iso(t)  # ev[5]: a deliberately broken stamp
                out.append({"id": ev[1], "contact_id": ev[4], "type": ev[2],
                            "occurred_at": stamp, "properties": ev[3]})  # fmt: skip
        for t, eid, kind, props, contact_id, anonymous_id in tl.visits:
            if since <= t < clock:
                rec = {"id": eid, "anonymous_id": anonymous_id, "type": kind,
                       "occurred_at": iso(t), "properties": props}  # fmt: skip
                if contact_id is not None:  # an identify: both ids
                    rec = {"id": eid, "contact_id": contact_id, **rec}
                out.append(rec)
        return out


def _ascii(name: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                           "Ü": "Ue", "ë": "e", "ễ": "e", " ": "", ".": ""})  # fmt: skip
    return name.translate(table).lower()
