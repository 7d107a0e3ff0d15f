"""The mailing file: encodings, CSV injection, quoting, sorting, address quality, determinism."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date

import pytest

from journeyflow.config import ConfigError, VendorProfile
from journeyflow.config.model import DEFAULT_COLUMNS
from journeyflow.config.postal import parse_postal
from journeyflow.postal.address import check_addresses, clean
from journeyflow.postal.mailfile import (
    EncodingError,
    build_mailing,
    render_csv,
    render_mailing,
    render_rejects,
)

D = date(2026, 11, 21)
DEFAULT = VendorProfile(name="default")


def person(contact_id: str, **fields) -> dict:
    row = {
        "contact_id": contact_id,
        "salutation": "Frau",
        "title": "",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "company": "",
        "street": "Heidestraße",
        "house_number": "17",
        "postal_code": "51147",
        "city": "Köln",
        "country": "DE",
    }
    row.update(fields)
    return row


def read(data: bytes, profile: VendorProfile = DEFAULT) -> list[list[str]]:
    text = data.decode(profile.encoding)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=profile.delimiter))


@pytest.mark.parametrize("encoding", ["utf-8", "iso-8859-1", "windows-1252"])
def test_umlauts_round_trip(encoding):
    profile = VendorProfile(name="p", encoding=encoding)
    row = person("1", first_name="Jürgen", last_name="Größe-Ärmel", city="München")
    data = render_csv([row], profile, "win_back")
    assert "ß".encode(encoding) in data
    header, body = read(data, profile)
    assert header == [h for h, _ in DEFAULT_COLUMNS]
    assert body[3:5] == ["Jürgen", "Größe-Ärmel"]
    assert body[6] == "Heidestraße" and body[9] == "München" and body[11] == "win_back"


def test_unencodable_name_names_the_contact_not_the_name():
    profile = VendorProfile(name="p", encoding="iso-8859-1")
    rows = [person("c-7", last_name="Nguyễn"), person("c-8")]
    with pytest.raises(EncodingError) as info:
        render_csv(rows, profile, "win_back")
    message = str(info.value)
    assert "c-7" in message and "iso-8859-1" in message
    assert "c-8" not in message and "Nguy" not in message
    assert info.value.contact_ids == ["c-7"]


def test_address_quality_rejects_unencodable_rows_when_given_the_encoding():
    accepted, rejects = check_addresses(
        [person("1", last_name="Nguyễn"), person("2", last_name="Meier")], encoding="iso-8859-1"
    )
    assert [r["contact_id"] for r in accepted] == ["2"]
    assert rejects == [("1", "cannot be encoded in iso-8859-1: last_name")]


def test_formula_cells_are_prefixed():
    row = person(
        "1",
        first_name="=1+1",
        last_name="+4930123",
        company="-x",
        title="@SUM(A1)",
        street="\tHauptstr.",
    )
    body = read(render_csv([row], DEFAULT))[1]
    assert body[3] == "'=1+1" and body[4] == "'+4930123" and body[5] == "'-x"
    assert body[2] == "'@SUM(A1)" and body[6] == "'\tHauptstr."


def test_delimiter_quotes_and_newlines_survive():
    row = person("1", company='Müller; Söhne "GmbH"', street="Am Hang\nHinterhaus", city="A\rB")
    for terminator in ("\r\n", "\n"):
        profile = VendorProfile(name="p", line_terminator=terminator)
        data = render_csv([row], profile)
        assert data.endswith(terminator.encode())
        body = read(data, profile)
        assert len(body) == 2
        assert body[1][5] == 'Müller; Söhne "GmbH"'
        assert body[1][6] == "Am Hang\nHinterhaus" and body[1][9] == "A\rB"


def test_postal_code_stays_text_and_rows_sort_by_postal_code():
    rows = [
        person("3", postal_code="80331", last_name="A"),
        person("2", postal_code="01067", last_name="B"),
        person("1", postal_code="80331", last_name="C"),
    ]
    body = read(render_csv(rows, DEFAULT))[1:]
    assert [(r[0], r[8]) for r in body] == [("2", "01067"), ("1", "80331"), ("3", "80331")]
    assert b";01067;" in render_csv(rows, DEFAULT)


def test_household_keeps_the_lowest_contact_id():
    rows = [
        person("20", street="Heidestraße"),
        person("10", street="Heidestr.", house_number=" 17 "),
        person("30", street="heide strasse"),
        person("40", last_name="Schmidt"),
        person("50", street="Heidestraße", house_number="17a"),
    ]
    accepted, rejects = check_addresses(rows)
    assert [r["contact_id"] for r in accepted] == ["10", "40", "50"]
    assert rejects == [("20", "household: same as 10"), ("30", "household: same as 10")]


def test_long_fields_are_rejected_never_truncated():
    accepted, rejects = check_addresses([person("1", street="S" * 81), person("2", city="K" * 80)])
    assert [r["contact_id"] for r in accepted] == ["2"]
    assert accepted[0]["city"] == "K" * 80
    assert rejects == [("1", "street longer than 80 characters")]


@pytest.mark.parametrize(
    ("country", "code", "ok"),
    [
        ("DE", "01067", True),
        ("DE", "1067", False),
        ("DE", "０１０６７", False),  # fullwidth digits are not a German postal code
        ("DE", "٠١٠٦٧", False),
        ("DE", "D-01067", False),
        ("AT", "1010", True),
        ("AT", "10100", False),
        ("ch", "8001", True),
        ("CH", "80011", False),
        ("FR", "75001", False),
        ("Việt Nam", "100000", False),
    ],
)
def test_postal_code_per_country(country, code, ok):
    accepted, rejects = check_addresses([person("1", country=country, postal_code=code)])
    assert bool(accepted) is ok
    if not ok:
        expected = "postal_code not valid" if country in ("DE", "AT", "CH") else "country not"
        assert expected in rejects[0][1]
        render_rejects(rejects, VendorProfile(name="p", encoding="iso-8859-1"))  # encodable
    if country == "FR":
        assert rejects == [("1", "country not supported: FR")]


def test_required_fields_and_cleaning():
    rows = [
        person(
            "1",
            street="  Haupt\u00a0 straße\x00 ",
            city="Ber\u200blin\n",
            last_name=None,
            company="X",
        ),
        person("2", street=""),
        person("3", last_name="", company="ACME GmbH"),
        person("4", last_name="", company=""),
    ]
    accepted, rejects = check_addresses(rows)
    assert {r["contact_id"] for r in accepted} == {"1", "3"}
    first = next(r for r in accepted if r["contact_id"] == "1")
    assert first["street"] == "Haupt straße" and first["city"] == "Berlin"
    assert dict(rejects) == {"2": "missing street", "4": "missing last_name or company"}
    assert clean("a\tb\r\nc") == "a b c"


def test_manifest_matches_and_rebuild_is_byte_identical(tmp_path):
    rows = [person("1"), person("2", last_name="Meier", postal_code="01067")]
    rejects = [("9", "missing street")]
    first = build_mailing(tmp_path / "a", rows, rejects, DEFAULT, "win_back", D, "run-1")
    second = build_mailing(tmp_path / "b", rows, rejects, DEFAULT, "win_back", D, "run-1")
    names = [p.name for p in first]
    assert names == [
        "mailing_win_back_2026-11-21.csv",
        "mailing_win_back_2026-11-21.manifest.json",
        "mailing_win_back_2026-11-21.rejects.csv",
        "mailing_win_back_2026-11-21.done",
    ]
    assert first[0].parent == tmp_path / "a" / "win_back" / "2026-11-21"
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    manifest = json.loads(first[1].read_text(encoding="utf-8"))
    assert manifest["sha256"] == hashlib.sha256(first[0].read_bytes()).hexdigest()
    assert manifest["row_count"] == 2 and manifest["run_id"] == "run-1"
    assert manifest["encoding"] == "utf-8" and manifest["delimiter"] == ";"
    assert manifest["file"] == names[0] and manifest["profile"] == "default"
    assert manifest["columns"][8] == "PLZ" and manifest["rejects"]["row_count"] == 1
    assert first[1].read_bytes().endswith(b"}\n")
    assert read(first[2].read_bytes()) == [["contact_id", "reason"], ["9", "missing street"]]
    done = first[3].read_text().splitlines()
    assert done[0] == f"{manifest['sha256']}  {names[0]}" and len(done) == 3
    assert not [p for p in first[0].parent.iterdir() if p.name.startswith(".")]


def test_rebuild_with_other_rows_replaces_files_and_marker(tmp_path):
    build_mailing(tmp_path, [person("1")], [], DEFAULT, "win_back", D, "r")
    paths = build_mailing(tmp_path, [person("1"), person("2", last_name="X")], [], DEFAULT,
                          "win_back", D, "r")  # fmt: skip
    assert len(read(paths[0].read_bytes())) == 3
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() in paths[3].read_text()


def test_rejects_file_uses_the_profile():
    profile = VendorProfile(name="p", delimiter=",", encoding="windows-1252")
    data = render_rejects([("2", "b"), ("1", "household: same as 0")], profile)
    assert data == b"contact_id,reason\r\n1,household: same as 0\r\n2,b\r\n"


def test_manifest_is_independent_of_row_order():
    rows = [person("1"), person("2", last_name="Z", postal_code="01067")]
    one = render_mailing(rows, [], DEFAULT, "win_back", D, "r")
    two = render_mailing(rows[::-1], [], DEFAULT, "win_back", D, "r")
    assert one.files() == two.files()


def test_profiles_from_config():
    raw = {
        "postal": {
            "profile": "latin1_vendor",
            "min_pieces": 50,
            "profiles": {
                "latin1_vendor": {
                    "delimiter": "|",
                    "encoding": "latin-1",
                    "columns": [["Kundennummer", "contact_id"], ["Nachname", "last_name"]],
                },
                "excel": {"encoding": "cp1252", "min_pieces": 0, "line_terminator": "\n"},
            },
        }
    }
    profiles = parse_postal(raw).profiles
    assert set(profiles) == {"default", "latin1_vendor", "excel"}
    assert profiles["default"].min_pieces == 50 and profiles["default"].encoding == "utf-8"
    latin = parse_postal(raw).profile
    assert latin.name == "latin1_vendor" and latin.encoding == "iso-8859-1"
    assert latin.delimiter == "|" and latin.headers == ["Kundennummer", "Nachname"]
    assert latin.min_pieces == 50
    assert profiles["excel"].encoding == "windows-1252" and profiles["excel"].min_pieces == 0
    assert len(profiles["excel"].columns) == 12
    default = parse_postal({}).profile
    assert default.headers[8] == "PLZ" and default.min_pieces == 200


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"profiles": {"x": {"encoding": "utf-16"}}}, "postal.profiles.x.encoding"),
        ({"profiles": {"x": {"columns": []}}}, "postal.profiles.x.columns must be a non-empty"),
        ({"profiles": {"x": {"columns": [["A", "email"]]}}}, "unknown field 'email'"),
        ({"profiles": {"x": {"columns": [["A"]]}}}, "postal.profiles.x.columns[0]"),
        ({"profiles": {"x": {"delimiter": ";;"}}}, "postal.profiles.x.delimiter"),
        ({"profiles": {"x": {"colums": []}}}, "unknown key postal.profiles.x.colums; did you mean"),
        ({"profile": "nope"}, "postal.profile is 'nope'"),
        ({"min_pieces": -1}, "postal.min_pieces"),
        ({"profil": "x"}, "unknown key postal.profil; did you mean 'profile'?"),
        (
            {
                "profiles": {
                    "x": {"encoding": "latin-1", "columns": [["Kunden-Nr. №", "contact_id"]]}
                }
            },
            "header 'Kunden-Nr. №' cannot be written in iso-8859-1",
        ),
    ],
)
def test_profile_config_errors(spec, needle):
    with pytest.raises(ConfigError) as info:
        parse_postal({"postal": spec})
    assert needle in str(info.value)
