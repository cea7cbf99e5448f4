"""A movie site people would use (issue 16), in a real browser over the whole stack:
search as people type, similar movies that are alike, movie facts, "Not interested",
ratings on My List, a personal home row, title cards that never cut a word, rows that
scroll by button with a skip link, forms that keep what was typed, and offline /docs."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from tests.e2e.conftest import Offsite
from tests.e2e.test_web import PASSWORD, sign_up

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def search(page, q: str) -> None:
    page.get_by_label("Search movies by title").fill(q)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Results for “{q}”")


def first_result(page) -> str:
    return page.locator(".result h2").first.inner_text()


def test_search_as_people_type(new_context, offsite: Offsite) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    page.goto("/")
    for q, first in (
        ("the incredibles", "The Incredibles"),
        ("wall-e", "WALL·E"),
        ("Up", "Up"),
        ("star wars", "Star Wars: Episode IV - A New Hope"),
        ("shawshenk redemption", "The Shawshank Redemption"),  # a typo
    ):
        search(page, q)
        assert first_result(page) == first, q
    page.goto("/search?q=love&page=999")
    status = page.get_by_role("status")
    expect(status).to_contain_text("Page 999 is past the end")
    page.get_by_role("link", name="Go to the last page").click()
    expect(page.locator(".result").first).to_be_visible()
    page.goto("/search?q=zzqqxx")
    expect(page.get_by_role("status")).to_contain_text("No movie matches “zzqqxx”")
    assert offsite.urls == []


@pytest.mark.parametrize("movie_id", [6377, 68954, 78499])  # Finding Nemo, Up, Toy Story 3
def test_similar_movies_are_alike_not_title_twins(new_context, movie_id: int) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"/movie/{movie_id}")
    cards = page.locator("#row-similar .card")
    expect(cards.first).to_be_visible()
    genres = cards.evaluate_all("cs => cs.slice(0, 5).map(c => c.dataset.genres)")
    assert len(genres) == 5 and all("Animation" in g.split("|") for g in genres), genres
    titles = page.locator("#row-similar .card-title").all_inner_texts()
    assert not [t for t in titles if re.match(r"(Finding|Fired Up|Knocked Up|The Toy)\b", t)]


def _clipped(page) -> list[str]:
    """Titles whose text overflows its box (a cut word) on the page."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.tc-title, .card-title')].filter(el => {
            const box = (el.closest('.titlecard') || el).getBoundingClientRect();
            const r = el.getBoundingClientRect();
            return el.scrollWidth > el.clientWidth + 1 || r.bottom > box.bottom + 1
                || r.top < box.top - 1;
        }).map(el => el.textContent.trim())"""
    )


def test_title_cards_never_cut_a_word(new_context) -> None:
    for options in ({"viewport": DESKTOP}, PHONE):
        page = new_context(**options).new_page()
        for url in ("/", "/movie/50872", "/search?q=harry+potter"):  # Ratatouille's page
            page.goto(url)
            expect(page.locator(".tc-title").first).to_be_visible()
            assert _clipped(page) == [], (url, options)


def test_movie_page_shows_what_is_known(new_context) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page)
    page.goto("/movie/1")  # Toy Story: rated, tagged, with an overview
    expect(page.locator("#facts")).to_contain_text(re.compile(r"★ \d\.\d average from \d+"))
    expect(page.locator(".tags li").first).to_be_visible()
    expect(page.locator(".overview")).to_contain_text("Woody")
    expect(page.locator(".card-meta").first).to_contain_text("Animation")
    page.get_by_label("Your rating").select_option("3.5")
    page.get_by_role("button", name="Rate").click()
    expect(page.get_by_text("You rated it 3.5 ★.")).to_be_visible()


def test_home_row_my_list_ratings_and_not_interested(new_context, offsite: Offsite) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page)
    page.goto("/movie/6377")
    page.get_by_role("button", name="+ Add to My List").click()
    expect(page.locator(".notice")).to_contain_text("Added to your list")

    page.goto("/")  # a personal row first for a signed-in user
    personal = page.locator('section[data-row="for-you"]')
    expect(personal.locator(".card").first).to_be_visible()
    assert page.locator("section.row").first.get_attribute("data-row") == "for-you"

    page.goto("/for-you")
    blend = page.locator('section[data-row="blend"]')
    first = blend.locator(".card").first
    movie_id = first.get_attribute("data-movie-id")
    title = first.locator(".card-title").inner_text()
    first.get_by_role("button", name=re.compile("^Not interested in")).click()
    expect(page.locator(".notice")).to_contain_text("we won't recommend that movie")
    for url in ("/for-you", "/"):
        page.goto(url)
        expect(page.locator(".card").first).to_be_visible()
        shown = page.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.movieId)")
        assert movie_id not in shown, url

    page.goto("/my-list")
    hidden = page.locator("#not-interested")
    expect(hidden).to_contain_text(title.rstrip("…").strip())
    item = page.locator("#my-list .result").first
    item.get_by_label("Your rating").select_option("4.5")
    item.get_by_role("button", name="Rate").click()
    expect(page.locator(".notice")).to_have_text("Rating saved.")
    expect(page).to_have_url(re.compile(r"/my-list"))
    assert page.locator("#my-list select").first.input_value() == "4.5"
    hidden.get_by_role("button", name=re.compile("in recommendations again")).click()
    expect(page.locator(".notice")).to_contain_text("can be recommended to you again")
    expect(page.locator("#not-interested")).to_have_count(0)
    assert offsite.urls == []


#: scrollLeft once a (smooth) scroll has come to rest: unchanged over 150 ms.
SETTLED_SCROLL = """async el => {
  let last = NaN;
  while (el.scrollLeft !== last) {
    last = el.scrollLeft;
    await new Promise(done => setTimeout(done, 150));
  }
  return last;
}"""


def test_rows_scroll_by_button_and_can_be_skipped(new_context) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    page.goto("/")
    row = page.locator('section[data-row="popular"]')
    cards = row.locator(".cards")
    expect(cards.locator(".card").first).to_be_visible()
    right = row.get_by_role("button", name="Scroll right: Popular")
    right.click()  # mouse
    assert page.evaluate(SETTLED_SCROLL, cards.element_handle()) > 0
    left = row.get_by_role("button", name="Scroll left: Popular")
    left.focus()
    page.keyboard.press("Enter")  # keyboard
    assert page.evaluate(SETTLED_SCROLL, cards.element_handle()) < 3

    page.goto("/")
    for _ in range(30):  # the first row's skip link is reached in a few tab stops
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('skip-row')"):
            break
    else:
        raise AssertionError("no skip link before the first row")
    skipped = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    assert page.evaluate("'#' + document.activeElement.id") == skipped
    page.keyboard.press("Tab")  # the next stop is past the row's cards
    assert page.evaluate("document.activeElement.closest('.cards') === null")


def test_forms_keep_input_and_show_errors_next_to_fields(new_context) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    page.goto("/signup")
    page.evaluate("document.querySelector('form.stack').noValidate = true")  # bypass checks
    page.get_by_label("E-mail (optional)").fill("fan@example.org")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#username-error")).to_contain_text("Username: use 3–64")
    expect(page.locator("#password-error")).to_contain_text("at least 8 characters")
    username = page.get_by_label("Username")
    assert username.get_attribute("aria-invalid") == "true"
    assert "username-error" in (username.get_attribute("aria-describedby") or "")
    assert page.get_by_label("E-mail (optional)").input_value() == "fan@example.org"
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")

    name = f"f{uuid.uuid4().hex[:10]}"
    page.evaluate("document.querySelector('form.stack').noValidate = true")
    username.fill(name)
    page.get_by_role("button", name="Create account").click()  # no password yet
    assert page.get_by_label("Username").input_value() == name
    expect(page.locator("#password-error")).to_be_visible()
    expect(page.locator("#username-error")).to_have_count(0)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/for-you"))

    page.goto("/signin")  # the sign-in form too
    page.evaluate("document.querySelector('form.stack').noValidate = true")
    page.get_by_label("Username").fill(name)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#password-error")).to_contain_text("please fill this in")
    assert page.get_by_label("Username").input_value() == name


def test_forms_without_javascript(new_context) -> None:
    """The same server-rendered errors when the browser runs no script at all."""
    context = new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto("/signup")
    csrf = page.locator("input[name=csrf]").input_value()
    reply = context.request.post("/signup", form={"csrf": csrf, "email": "fan@example.org"})
    assert reply.status == 422
    page.set_content(reply.text())
    expect(page.locator("#username-error")).to_contain_text("Username: use 3–64")
    expect(page.locator("#password-error")).to_be_visible()
    assert page.locator("#email").input_value() == "fan@example.org"


def test_docs_work_offline(new_context, offsite: Offsite) -> None:
    page = new_context(viewport=DESKTOP).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(page.locator('.opblock-summary-path[data-path="/me/not-interested"]')).to_have_count(1)
    assert offsite.urls == [] and not [e for e in errors if "Content Security" in e], errors


def test_readme_screenshots(new_context, screenshots: Path) -> None:
    """Desktop and phone screenshots of the pages the README shows, into reports/screenshots
    (copy them to docs/img when the pages change; tests never write tracked files)."""
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page)
    for movie_id in (6377, 2355, 4886):  # Finding Nemo, A Bug's Life, Monsters, Inc.
        page.goto(f"/movie/{movie_id}")
        page.get_by_role("button", name="+ Add to My List").click()
    page.goto("/for-you")
    expect(page.locator('section[data-row="blend"] .card').first).to_be_visible()
    page.screenshot(path=screenshots / "web-for-you.png")
    phone = new_context(**PHONE).new_page()
    phone.goto("/movie/1")
    expect(phone.locator("#row-similar .card").first).to_be_visible()
    phone.screenshot(path=screenshots / "web-phone-movie.png")
    for name in ("web-for-you.png", "web-phone-movie.png"):
        assert (screenshots / name).stat().st_size > 10_000
