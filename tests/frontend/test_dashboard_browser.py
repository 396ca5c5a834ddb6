"""The campaign dashboard in real headless Chromium: the charts are drawn, their numbers are
the tables' numbers and the database's counts, the tables fit their cards, and no internal
value or server path is on the page."""

from __future__ import annotations

import os

import pytest
from django.db.models import Count

from annotation.models import Annotation, Campaign
from pairbuilder.models import Pair
from tests.frontend.dashboard_factory import PASSWORD, dashboard_build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # see test_annotator_browser.py

VIEWPORT = {"width": 1366, "height": 900}

# Every chart on the page as Chart.js holds it: labels and each dataset's label and values.
CHARTS_JS = """() => Object.fromEntries([...document.querySelectorAll('canvas')].map((c) => {
  const chart = Chart.getChart(c);
  return [c.id, chart && {labels: chart.data.labels, drawn: chart.getDatasetMeta(0).data.length,
    datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data}))}];
}))"""

# A table's body as text cells, row by row.
TABLE_JS = """(id) => [...document.querySelectorAll(`#${id} tbody tr`)].map(
  (tr) => [...tr.cells].map((td) => td.textContent.trim()))"""


@pytest.fixture
def dashboard(settings):
    fx = dashboard_build()
    Campaign.objects.filter(pk=fx.campaign.campaign.pk).update(iteration2_source="next_page")
    fx.annotators[0].is_staff = True
    fx.annotators[0].save()
    return fx


@pytest.fixture
def page(browser, live_server, dashboard):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{live_server.url}/accounts/login/?next=/campaigns/{dashboard.campaign.campaign.name}/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#chart-activity")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-models-f1')")
    return page


def _number(cell: str) -> float | None:
    cell = cell.removesuffix(" s")
    return None if cell in ("–", "") else float(cell)


def test_the_charts_are_drawn_and_agree_with_the_tables_and_the_database(page, dashboard):
    # given: the dashboard of a campaign with answers, a pair build and a trained GSE
    campaign = dashboard.campaign.campaign
    # when: the page has drawn its charts
    charts = page.evaluate(CHARTS_JS)
    # then: six charts, each with bars or points drawn
    assert set(charts) == {"chart-activity", "chart-annotators", "chart-agreement",
                           "chart-pairs", "chart-models-auc", "chart-models-f1"}
    assert all(c and c["drawn"] > 0 for c in charts.values()), charts
    # activity: each iteration's bars add up to that iteration's answers in the database,
    # and each bar is its row of the table
    activity = charts["chart-activity"]
    for ds in activity["datasets"]:
        it = int(ds["label"].split()[-1])
        assert sum(ds["data"]) == Annotation.objects.filter(
            task__campaign=campaign, task__iteration=it).count()
    table = page.evaluate(TABLE_JS, "table-activity")
    assert [r[0] for r in table] == activity["labels"]
    assert [[int(x) for x in r[1:-1]] for r in table] == [
        list(v) for v in zip(*[d["data"] for d in activity["datasets"]], strict=True)]
    # annotators: answers per annotator as SQL counts them, pace as the table shows it
    people = charts["chart-annotators"]
    sql = dict(Annotation.objects.filter(task__campaign=campaign)
               .values_list("annotator__username").annotate(n=Count("pk")))
    assert dict(zip(people["labels"], people["datasets"][0]["data"], strict=True)) == sql
    table = page.evaluate(TABLE_JS, "table-annotators")
    assert [r[0] for r in table] == people["labels"]
    assert [int(r[1]) for r in table] == people["datasets"][0]["data"]
    assert [_number(r[3]) for r in table] == people["datasets"][1]["data"]
    # pairs: the Pair rows per label, not the build's stale tally of 99
    pairs = charts["chart-pairs"]
    by_label = {d["label"]: d["data"] for d in pairs["datasets"]}
    sql = dict(Pair.objects.filter(build=dashboard.build).values_list("label")
               .annotate(n=Count("pk")))
    assert (by_label["Positive"], by_label["Negative"]) == ([sql[1]], [sql[0]])
    table = page.evaluate(TABLE_JS, "table-pairs")
    assert [int(x) for x in table[0][1:]] == [d["data"][0] for d in pairs["datasets"]]
    # agreement: the chart's Jaccard points are the table's
    agreement = charts["chart-agreement"]
    table = page.evaluate(TABLE_JS, "table-agreement")
    assert [_number(r[2]) for r in table] == agreement["datasets"][0]["data"]
    assert sum(int(r[1]) for r in table) == 12  # every task was answered twice
    # models: each scorer's AUC bar is its table row
    auc = {d["label"]: d["data"][0] for d in charts["chart-models-auc"]["datasets"]}
    table = page.evaluate(TABLE_JS, "table-models")
    rows = [r[-5:] for r in table]  # the first row also carries the snapshot cell
    assert {r[0]: float(r[1]) for r in rows} == auc
    assert auc["GSE"] == 0.71 and auc["Raw pixels"] == 0.55


def test_tables_fit_their_cards_and_no_internal_value_is_shown(page):
    # given: the dashboard at 1366 px, every "The numbers" table unfolded
    page.evaluate("() => document.querySelectorAll('details.numbers').forEach(d => d.open = true)")
    # when: we measure each table against the card it sits in
    overflow = page.evaluate("""() => [...document.querySelectorAll('.dash .card table')]
      .map((t) => { const card = t.closest('.card');
        const inner = card.clientWidth - parseFloat(getComputedStyle(card).paddingLeft)
                      - parseFloat(getComputedStyle(card).paddingRight);
        return {id: t.id || card.id, table: t.scrollWidth, room: inner}; })
      .filter((m) => m.table > m.room + 1)""")
    # then: none is wider than its card
    assert overflow == []
    # and on a phone the page never scrolls sideways (a wide table scrolls inside its card)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # and the page names things for people: no server path, no choice key
    text = page.inner_text("body")
    assert "/srv/" not in text and "next_page" not in text
    assert "candidates ranked 21-40" in text
