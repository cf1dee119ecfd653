"""The public pages without a login (/cong-khai): suppression of small samples, the same numbers as the indices API,
nothing personal anywhere, caching headers and 304s, bad input answered with a 4xx."""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from email.utils import format_datetime

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.app import create_app
from server.cache import TimedCache
from server.db import make_engine
from server.models import Dossier, Petition, PublicSetting, PublicUnit, Rating, Unit
from tests import factories, logins
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.dashboard.world import OCT, World, build_world

HTML = {"accept": "text/html"}
PERIOD = "2026-10"
UNITS = ["W-ROOT", "W-A", "W-A1", "W-A2", "W-B", "W-B1"]
#: W-A = W-A1 (42 ratings) + W-A2 (5): W-A1's rate would give W-A2's by subtraction, so it is withheld too.
SECONDARY = {"W-A1"}


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def reader(app: FastAPI, world: World) -> Iterator[TestClient]:
    """A second browser, logged in as the administrator, for the authenticated API."""
    with TestClient(app) as other:
        logins.login(other, world.admin)
        yield other


def data(client: TestClient, unit: str | None = None, period: str = PERIOD) -> dict[str, object]:
    response = client.get("/cong-khai/data.json", params={"period": period, **({"unit": unit} if unit else {})})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def rows_by_unit(document: dict[str, object]) -> dict[str, dict[str, object]]:
    rows = document["rows"]
    assert isinstance(rows, list)
    return {r["unit"]: r for r in rows}


def csv_rows(client: TestClient, unit: str | None = None) -> list[dict[str, str]]:
    response = client.get("/cong-khai/data.csv", params={"period": PERIOD, **({"unit": unit} if unit else {})})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def page(client: TestClient, **params: str) -> BeautifulSoup:
    response = client.get("/cong-khai", params={"period": PERIOD, **params})
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


def ranked_codes(soup: BeautifulSoup) -> list[str]:
    table = soup.select_one("table.rank")
    if table is None:
        return []
    return [a["href"].split("unit=")[1].split("&")[0] for a in table.select("tbody th a")]  # type: ignore[union-attr,index]


def few_codes(soup: BeautifulSoup) -> list[str]:
    return [a["href"].split("unit=")[1].split("&")[0] for a in soup.select("table.few-list tbody th a")]  # type: ignore[union-attr,index]


# --- the open data ---------------------------------------------------------------------------------------------------


def test_data_json_has_a_row_per_published_unit_with_the_contract_columns(client: TestClient, world: World) -> None:
    document = data(client)
    assert document["period"] == PERIOD
    assert document["unit"] == "W-ROOT"  # the province, by default
    assert document["licence"] == {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
    assert str(document["generated_at"]).endswith("Z")
    rows = document["rows"]
    assert isinstance(rows, list)
    assert [r["unit"] for r in rows] == UNITS  # tree order
    assert set(rows[0]) == {"unit", "name", "parent", "n", "rate", "ci_low", "ci_high", "status", "score_766"}
    assert rows_by_unit(document)["W-A1"]["parent"] == "W-A"
    assert rows_by_unit(document)["W-ROOT"]["parent"] is None
    # A unit's own data: its row and the units below it.
    assert [r["unit"] for r in data(client, "W-A")["rows"]] == ["W-A", "W-A1", "W-A2"]  # type: ignore[union-attr]


def test_a_unit_under_the_minimum_sample_has_n_but_no_rate(client: TestClient, world: World) -> None:
    a2 = rows_by_unit(data(client))["W-A2"]
    assert a2["n"] == 5
    assert (a2["rate"], a2["ci_low"], a2["ci_high"]) == (None, None, None)
    assert a2["status"] == "insufficient_data"
    by_csv = {r["unit"]: r for r in csv_rows(client)}
    assert by_csv["W-A2"]["n"] == "5"
    assert (by_csv["W-A2"]["rate"], by_csv["W-A2"]["ci_low"], by_csv["W-A2"]["ci_high"]) == ("", "", "")
    assert by_csv["W-B1"]["rate"] != ""


def test_the_same_numbers_as_the_indices_api_for_every_unit(
    client: TestClient, reader: TestClient, world: World
) -> None:
    published = rows_by_unit(data(client))
    from_csv = {r["unit"]: r for r in csv_rows(client)}
    for code in UNITS:
        api = reader.get("/api/v1/indices", params={"period": PERIOD, "unit": code})
        assert api.status_code == 200, api.text
        overall = api.json()["overall"]
        row = published[code]
        assert row["n"] == overall["n"], code
        if code in SECONDARY:
            assert overall["n"] >= 30 and overall["rate"] is not None, code
            assert (row["rate"], row["ci_low"], row["ci_high"], row["status"]) == (None, None, None, "withheld"), code
        elif overall["n"] >= 30:
            assert (row["rate"], row["ci_low"], row["ci_high"], row["status"]) == (
                overall["rate"],
                overall["ci_low"],
                overall["ci_high"],
                overall["status"],
            ), code
            assert float(from_csv[code]["rate"]) == overall["rate"], code
        else:
            assert row["rate"] is None and overall["status"] == "insufficient_data", code


def dossiers_and_petitions(session: Session, unit: Unit, n: int, petitions: int | None = None) -> None:
    """`n` dossiers completed in October 2026 (3 of them late) and `n` (or `petitions`) petitions received then, at
    `unit`."""
    for i in range(n):
        session.add(
            Dossier(
                code=f"{unit.code}-D{i}",
                unit_id=unit.id,
                received_at=OCT,
                due_at=OCT + timedelta(days=10),
                completed_at=OCT + timedelta(days=12 if i < 3 else 5),
                completed_on=date(2026, 10, 13 if i < 3 else 6),
                status="completed",
                overdue=i < 3,
            )
        )
        if petitions is not None and i >= petitions:
            continue
        session.add(
            Petition(
                unit_id=unit.id,
                category="tthc",
                received_at=OCT + timedelta(days=1),
                due_at=OCT + timedelta(days=20),
                answered_at=OCT + timedelta(days=25 if i < 4 else 3),
                source="import",
                token=f"tok-{unit.code}-{i}",
                content="Phản ánh",
            )
        )
    session.flush()


def test_score_766_is_the_scores_apis_where_every_count_has_the_minimum_sample(
    client: TestClient, reader: TestClient, world: World, session: Session
) -> None:
    dossiers_and_petitions(session, world.b1, 30)  # W-B1, W-B and W-ROOT: 30 dossiers, 30 petitions, 40+ ratings
    published = rows_by_unit(data(client))
    from_csv = {r["unit"]: r for r in csv_rows(client)}
    for code in ("W-ROOT", "W-B", "W-B1"):
        api = reader.get("/api/v1/scores/766", params={"period": PERIOD, "unit": code})
        assert api.status_code == 200, api.text
        assert 0 < api.json()["total"] < 18
        assert published[code]["score_766"] == api.json()["total"], code
        assert float(from_csv[code]["score_766"]) == api.json()["total"], code
    shown = page(client).select_one(".summary").get_text()  # type: ignore[union-attr]
    assert f"{published['W-ROOT']['score_766']:.2f}".replace(".", ",") in shown


def test_score_766_is_withheld_under_the_minimum_sample_of_ratings_dossiers_or_petitions(
    client: TestClient, reader: TestClient, world: World, session: Session
) -> None:
    dossiers_and_petitions(session, world.b1, 29)  # W-B1 and W-B: 40 ratings, one dossier and petition short
    dossiers_and_petitions(session, world.a2, 40)  # W-A2: 40 dossiers and petitions, but 5 ratings
    dossiers_and_petitions(session, world.a1, 35, petitions=0)  # W-A1: 42 ratings, 35 dossiers, no petition
    published = rows_by_unit(data(client))
    for code in UNITS:
        total = reader.get("/api/v1/scores/766", params={"period": PERIOD, "unit": code}).json()["total"]
        # The API scores every unit; published only where ratings and dossiers are 30 or more, and petitions none
        # (their metrics' full points reveal nobody) or 30 or more. W-ROOT: 87 ratings, 104 dossiers, 69 petitions;
        # W-A: 47, 75, 40; W-A1: 42, 35, 0. W-B1 and W-B fall short by a dossier and a petition, W-A2 by ratings.
        expected = total if code in ("W-ROOT", "W-A", "W-A1") else None
        assert published[code]["score_766"] == expected, code
    assert {r["unit"]: r["score_766"] for r in csv_rows(client)}["W-A2"] == ""
    for unit in ("W-B1", "W-A2"):
        summary = page(client, unit=unit).select_one(".summary")
        assert summary is not None
        score = summary.find("dt", string="Điểm hài lòng theo QĐ 766 (tối đa 18)").find_next_sibling("dd")  # type: ignore[union-attr]
        assert score is not None and score.get_text(strip=True) == "Chưa đủ số đánh giá", unit


def test_csv_cells_cannot_run_as_formulas(client: TestClient, world: World, session: Session) -> None:
    world.a2.name = "=HYPERLINK(1)"
    session.flush()
    by_csv = {r["unit"]: r for r in csv_rows(client)}
    assert by_csv["W-A2"]["name"] == "'=HYPERLINK(1)"


# --- the page --------------------------------------------------------------------------------------------------------


def test_the_page_ranks_units_with_enough_ratings_and_lists_the_rest_apart(client: TestClient, world: World) -> None:
    soup = page(client)
    assert soup.h1 is not None and soup.h1.get_text(strip=True) == "Tỉnh thử nghiệm"
    assert soup.html is not None and soup.html["lang"] == "vi"
    # every unit below the province, at any depth; best rate first (W-B and W-B1 tie: by code)
    assert ranked_codes(soup) == ["W-A", "W-B", "W-B1"]
    assert few_codes(soup) == ["W-A1", "W-A2"]  # W-A1 withheld so that W-A minus W-A1 does not give W-A2
    few = {tr.select_one("th").get_text(strip=True): tr.get_text() for tr in soup.select("table.few-list tbody tr")}  # type: ignore[union-attr]
    assert "Không công bố" in few["Xã A1"] and "Chưa đủ số đánh giá" in few["Xã A2"]
    ranks = [td.get_text(strip=True) for td in soup.select("table.rank tbody tr td:first-child")]
    assert ranks == ["1", "2", "3"]
    assert "78,2%" in soup.select_one(".summary .big").get_text()  # type: ignore[union-attr]


def test_sorting_by_name_keeps_the_ranks(client: TestClient, world: World) -> None:
    soup = page(client, sort="name")
    rows = [
        (tr.select_one("td").get_text(strip=True), tr.select_one("th a")["href"].split("unit=")[1].split("&")[0])  # type: ignore[union-attr,index]
        for tr in soup.select("table.rank tbody tr")
    ]
    assert rows == [("1", "W-A"), ("2", "W-B"), ("3", "W-B1")]  # Khu vực A, Khu vực B, Xã B1
    assert soup.select_one('th[aria-sort="ascending"] a[href*="sort=name"]') is not None
    assert client.get("/cong-khai", params={"sort": "worst"}, headers=HTML).status_code == 422


def test_a_units_page_withholds_its_small_field_rows(client: TestClient, world: World) -> None:
    soup = page(client, unit="W-A2")
    assert soup.h1 is not None and soup.h1.get_text(strip=True) == "Xã A2"
    assert "Chưa đủ số đánh giá" in soup.select_one(".summary .big").get_text()  # type: ignore[union-attr]
    fields = soup.find(id="h-fields").find_parent("section")  # type: ignore[union-attr]
    cells = [tr.select("td")[0].get_text(strip=True) for tr in fields.select("tbody tr")]  # type: ignore[union-attr]
    assert cells == ["Chưa đủ số đánh giá"]  # justice, n = 5
    assert ranked_codes(soup) == [] and few_codes(soup) == []
    # The province's land field has 67 ratings, its justice field 20: land would give justice by subtraction.
    assert field_cells(page(client)) == {"Đất đai": "Không công bố", "Tư pháp – Hộ tịch": "Chưa đủ số đánh giá"}


def field_cells(soup: BeautifulSoup) -> dict[str, str]:
    fields = soup.find(id="h-fields").find_parent("section")  # type: ignore[union-attr]
    return {tr.th.get_text(strip=True): tr.select("td")[0].get_text(strip=True) for tr in fields.select("tbody tr")}  # type: ignore[union-attr]


def test_a_small_field_gets_the_next_smallest_field_withheld_not_the_others(
    client: TestClient, world: World, session: Session
) -> None:
    counter = factories.counter(session, world.b1, code="W-B1-Q2")
    for i in range(35):
        factories.rating(session, counter, level=4, field_code="tax", at=OCT + timedelta(hours=i))
    for i in range(31):
        factories.rating(session, counter, level=3, field_code="health", at=OCT + timedelta(hours=i))
    cells = field_cells(page(client))  # land 67, health 31, tax 35, justice 20
    assert cells["Tư pháp – Hộ tịch"] == "Chưa đủ số đánh giá"
    assert cells["Y tế"] == "Không công bố"  # the smallest published field
    assert cells["Thuế"] == "100,0%" and cells["Đất đai"].endswith("%")
    # W-B1 alone: land 40 and tax 35, health 31, nothing withheld, nothing to protect
    assert all(c.endswith("%") for c in field_cells(page(client, unit="W-B1")).values())


def test_the_page_in_english_links_and_stays_english_without_a_cookie(client: TestClient, world: World) -> None:
    response = client.get("/cong-khai", params={"period": PERIOD, "lang": "en"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers  # one URL, one answer: cacheable by a proxy
    soup = BeautifulSoup(response.text, "html.parser")
    assert soup.html is not None and soup.html["lang"] == "en"
    assert soup.find(string="Ranking of the units below") is not None
    assert all("lang=en" in a["href"] for a in soup.select("table.rank tbody th a"))
    # the Vietnamese page is not affected by the English one (no cookie involved)
    assert page(client).html["lang"] == "vi"  # type: ignore[index]


def test_period_month_quarter_year_and_bad_periods(client: TestClient, world: World) -> None:
    for period in ("2026-10", "2026-Q4", "2026"):
        assert rows_by_unit(data(client, period=period))["W-A1"]["n"] == 42
    assert rows_by_unit(data(client, period="2026-09"))["W-A1"]["n"] == 0
    for bad in ("2026-10-01..2026-10-05", "October", "2026-13"):
        response = client.get("/cong-khai/data.json", params={"period": bad})
        assert response.status_code == 422, bad
        assert "period" in response.json()["detail"]
        page_response = client.get("/cong-khai", params={"period": bad}, headers=HTML)
        assert page_response.status_code == 422
        assert "Kỳ" in page_response.text


def test_unknown_or_unpublished_units_are_404(client: TestClient, world: World, session: Session) -> None:
    assert client.get("/cong-khai/data.json", params={"unit": "NOPE"}).status_code == 404
    assert client.get("/cong-khai", params={"unit": "NOPE"}, headers=HTML).status_code == 404
    assert client.get("/cong-khai/badge/NOPE.svg").status_code == 404


# --- what is published -----------------------------------------------------------------------------------------


def test_a_withheld_subtree_disappears_but_still_counts_in_the_province(
    client: TestClient, reader: TestClient, world: World, session: Session
) -> None:
    session.add(PublicUnit(unit_id=world.b.id, published=False))  # type: ignore[arg-type]
    session.flush()
    document = data(client)
    assert [r["unit"] for r in document["rows"]] == ["W-ROOT", "W-A", "W-A1", "W-A2"]  # type: ignore[union-attr]
    api = reader.get("/api/v1/indices", params={"period": PERIOD, "unit": "W-ROOT"}).json()["overall"]
    assert rows_by_unit(document)["W-ROOT"]["n"] == api["n"] == 87
    assert client.get("/cong-khai", params={"unit": "W-B1"}, headers=HTML).status_code == 404
    assert "W-B" not in ranked_codes(page(client))


def test_a_subtree_published_again_below_a_withheld_unit(client: TestClient, world: World, session: Session) -> None:
    session.add(PublicUnit(unit_id=world.root.id, published=False))  # type: ignore[arg-type]
    session.add(PublicUnit(unit_id=world.b.id, published=True))  # type: ignore[arg-type]
    session.flush()
    document = data(client)
    assert document["unit"] == "W-B"  # the page opens on the highest published unit
    assert [r["unit"] for r in document["rows"]] == ["W-B", "W-B1"]  # type: ignore[union-attr]
    assert client.get("/cong-khai/data.json", params={"unit": "W-ROOT"}).status_code == 404
    assert client.get("/cong-khai/badge/W-A1.svg").status_code == 404


def test_the_publications_minimum_sample_withholds_more(client: TestClient, world: World, session: Session) -> None:
    session.add(PublicSetting(id=1, min_sample=41))
    session.flush()
    document = data(client)
    rows = rows_by_unit(document)
    assert document["min_sample"] == 41
    assert rows["W-B1"]["rate"] is None and rows["W-B1"]["status"] == "insufficient_data"  # 40
    # W-B (40) is withheld: W-ROOT minus W-A would give it, so W-A (47) is withheld too, then W-A1 (42) beside W-A2
    assert {c: r["status"] for c, r in rows.items() if r["status"] == "withheld"} == {
        "W-A": "withheld",
        "W-A1": "withheld",
    }
    soup = page(client)
    assert ranked_codes(soup) == []
    assert few_codes(soup) == ["W-A", "W-A1", "W-B", "W-B1", "W-A2"]


def test_a_parent_with_one_small_child_has_the_next_smallest_child_withheld(
    client: TestClient, world: World, session: Session
) -> None:
    a3 = factories.unit(session, world.a, code="W-A3", name="Xã A3")
    counter = factories.counter(session, a3, code="W-A3-Q1")
    for i in range(50):
        factories.rating(session, counter, level=4, at=OCT + timedelta(hours=i))
    rows = rows_by_unit(data(client))
    assert rows["W-A"]["n"] == 97 and rows["W-A"]["rate"] is not None
    assert (rows["W-A2"]["n"], rows["W-A2"]["status"]) == (5, "insufficient_data")
    assert (rows["W-A1"]["n"], rows["W-A1"]["rate"], rows["W-A1"]["status"]) == (42, None, "withheld")
    assert (rows["W-A3"]["rate"], rows["W-A3"]["status"]) == (1.0, "met")  # 50: the larger child stays
    by_csv = {r["unit"]: r for r in csv_rows(client)}
    assert (by_csv["W-A1"]["rate"], by_csv["W-A1"]["ci_low"], by_csv["W-A1"]["status"]) == ("", "", "withheld")
    badge = client.get("/cong-khai/badge/W-A1.svg", params={"period": PERIOD, "lang": "en"}).text
    assert "withheld" in badge and "%" not in badge.split("<title>")[1]


def test_a_parents_own_ratings_are_part_of_what_subtraction_would_reveal(
    client: TestClient, world: World, session: Session
) -> None:
    """W-B has no ratings of its own: W-B = W-B1, nothing hidden. Three at W-B's own desk would be W-B minus W-B1."""
    assert rows_by_unit(data(client))["W-B1"]["status"] == "not_met"
    desk = factories.counter(session, world.b, code="W-B-Q1")
    for i in range(3):
        factories.rating(session, desk, level=4, at=OCT + timedelta(hours=i))
    rows = rows_by_unit(data(client, period="2026-Q4"))  # another snapshot: not the cached one
    assert (rows["W-B"]["n"], rows["W-B"]["status"]) == (43, "not_met")
    assert (rows["W-B1"]["n"], rows["W-B1"]["rate"], rows["W-B1"]["status"]) == (40, None, "withheld")


# --- nothing personal ----------------------------------------------------------------------------------------------


PERSONAL = [
    "W-A1-CB1",  # officer codes
    "W-A2-CB1",
    "W-B1-CB1",
    "Chờ quá lâu",  # comments
    "Hướng dẫn chưa rõ",
    "BSECRET-COMMENT",
    "0912 345 678",  # contacts
    "0999 000 111",
    "BSECRET-CONTACT",
    "BSECRET-KEY",  # an API key's label
    "w-manager",  # logins
    "W-A1-Q1",  # counters
    "W-B1-Q1",
]


def test_nothing_personal_in_any_public_answer(client: TestClient, world: World) -> None:
    answers: list[httpx.Response] = []
    for unit in UNITS:
        for lang in ("vi", "en"):
            answers.append(client.get("/cong-khai", params={"period": PERIOD, "unit": unit, "lang": lang}))
            answers.append(client.get(f"/cong-khai/badge/{unit}.svg", params={"period": PERIOD, "lang": lang}))
        answers.append(client.get("/cong-khai/data.json", params={"period": PERIOD, "unit": unit}))
        answers.append(client.get("/cong-khai/data.csv", params={"period": PERIOD, "unit": unit}))
    assert {a.status_code for a in answers} == {200}
    text = "\n".join(a.text for a in answers)
    assert "Xã A1" in text and "Khu vực B" in text  # units are public, by name
    assert [marker for marker in PERSONAL if marker in text] == []


# --- caching -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/cong-khai", "/cong-khai/data.json", "/cong-khai/data.csv", "/cong-khai/badge/W-A1.svg"]
)
def test_caching_headers_and_304_on_a_matching_etag(client: TestClient, world: World, url: str) -> None:
    first = client.get(url, params={"period": PERIOD})
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"') and len(etag) > 10
    assert first.headers["cache-control"] == "public, max-age=60"
    assert first.headers["last-modified"].endswith("GMT")
    assert "Accept-Encoding" in first.headers["vary"]
    again = client.get(url, params={"period": PERIOD}, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = client.get(url, params={"period": PERIOD}, headers={"if-none-match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    other = client.get(url, params={"period": PERIOD}, headers={"if-none-match": '"not-this-one"'})
    assert other.status_code == 200 and other.content == first.content


def test_gzip_when_accepted_and_the_same_bytes_behind_it(client: TestClient, world: World) -> None:
    zipped = client.get("/cong-khai/data.json", params={"period": PERIOD}, headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    raw = client.get("/cong-khai/data.json", params={"period": PERIOD}, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert zipped.content == raw.content  # httpx decoded the gzip: the same document
    assert int(zipped.headers["content-length"]) < len(raw.content)
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


def test_the_cached_answer_is_reused_until_it_expires(client: TestClient, world: World, session: Session) -> None:
    now = [1000.0]
    client.app.state.public_cache = TimedCache(60, clock=lambda: now[0])  # type: ignore[attr-defined]
    client.app.state.public_answers = TimedCache(60, clock=lambda: now[0])  # type: ignore[attr-defined]
    before = rows_by_unit(data(client))["W-A2"]["n"]
    factories.rating(session, factories.counter(session, world.a2), level=4, at=OCT)
    now[0] += 59
    assert rows_by_unit(data(client))["W-A2"]["n"] == before  # served from the cache
    now[0] += 62  # past twice the lifetime: computed again, with the request's session
    assert rows_by_unit(data(client))["W-A2"]["n"] == before + 1


def test_the_badge_is_an_svg_with_the_rate_or_not_enough(client: TestClient, world: World) -> None:
    good = client.get("/cong-khai/badge/W-B1.svg", params={"period": PERIOD})
    assert good.headers["content-type"] == "image/svg+xml"
    assert good.headers["access-control-allow-origin"] == "*"
    soup = BeautifulSoup(good.text, "html.parser")
    assert soup.svg is not None and soup.svg["role"] == "img"
    assert "75,0%" in good.text
    few = client.get("/cong-khai/badge/W-A2.svg", params={"period": PERIOD, "lang": "en"})
    assert "not enough ratings" in few.text and "%" not in few.text.split("<title>")[1].split("</title>")[0]


def test_a_repeated_url_is_answered_before_routing(client: TestClient, world: World, session: Session) -> None:
    url = "/cong-khai/data.json?period=2026-10&unit=W-A"
    first = client.get(url)
    factories.rating(session, factories.counter(session, world.a2), level=4, at=OCT)
    client.app.state.public_cache = TimedCache(60)  # type: ignore[attr-defined]  # the figures: forgotten
    again = client.get(url)
    assert again.content == first.content  # the answer kept by its exact URL
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=60"
    assert again.headers["link"] == '<https://creativecommons.org/licenses/by/4.0/>; rel="license"'
    assert client.get(url, headers={"if-none-match": first.headers["etag"]}).status_code == 304
    other_order = client.get("/cong-khai/data.json?unit=W-A&period=2026-10")  # another URL: computed afresh
    assert rows_by_unit(other_order.json())["W-A2"]["n"] == rows_by_unit(first.json())["W-A2"]["n"] + 1


def test_a_worker_answers_the_default_public_page_once_before_it_serves(db_factory: DatabaseFactory) -> None:
    """`hailong serve`'s workers (`open_pool_at_start`) run a whole public page at start-up, so a reader's first
    page pays only for its own figures; an app built for tests does not."""
    url = db_factory.new_url()
    engine = make_engine(url)
    try:
        with Session(engine) as setup:
            factories.unit(setup, code="WARM")
            setup.commit()
    finally:
        engine.dispose()
    for warm in (True, False):
        app = create_app(make_settings(url, public_cache_seconds=600))
        app.state.open_pool_at_start = warm
        with TestClient(app) as client:
            cached = len(app.state.public_answers._entries)
            assert cached == (1 if warm else 0)
            assert client.get("/cong-khai").status_code == 200


def test_two_workers_over_the_same_data_give_the_same_bytes_and_etags(db_factory: DatabaseFactory) -> None:
    """The answers carry the data's own time (the newest rating's), not the clock's: two workers, built a second
    apart over the same data, give the same bytes, so a proxy or a browser revalidates against either."""
    url = db_factory.new_url()
    engine = make_engine(url)
    try:
        with Session(engine) as setup:
            counter = factories.counter(setup, factories.unit(setup, code="SAME"), code="SAME-Q1")
            for i in range(31):
                factories.rating(setup, counter, level=4 if i % 3 else 2, at=OCT + timedelta(hours=i))
            setup.commit()
            newest = max(r.received_at for r in setup.exec(select(Rating)))
    finally:
        engine.dispose()
    urls = ["/cong-khai", "/cong-khai/data.json", "/cong-khai/data.csv", "/cong-khai/badge/SAME.svg"]
    answers: list[dict[str, httpx.Response]] = []
    for worker in range(2):
        if worker:
            time.sleep(1.1)  # the second worker computes in another second of the clock
        with TestClient(create_app(make_settings(url))) as client:
            answers.append({u: client.get(u, params={"period": PERIOD}) for u in urls})
    for u in urls:
        first, second = answers[0][u], answers[1][u]
        assert first.status_code == second.status_code == 200, u
        assert first.headers["etag"] == second.headers["etag"], u
        assert first.content == second.content, u
        assert first.headers["last-modified"] == format_datetime(
            newest.astimezone(UTC).replace(microsecond=0), usegmt=True
        )
    stamp = answers[0]["/cong-khai/data.json"].json()["generated_at"]
    assert stamp == newest.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    text = answers[0]["/cong-khai/data.csv"].content.decode("utf-8")
    table = list(csv.DictReader(io.StringIO(text[1:])))
    assert text[1:].splitlines()[0].endswith(",score_766,generated_at")  # appended after the contract's columns
    assert [r["generated_at"] for r in table] == [stamp]
