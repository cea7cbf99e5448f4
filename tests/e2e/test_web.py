"""The web UI in a real browser over the whole stack (see conftest.py)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from tests.e2e.conftest import Offsite

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect
STAR_WARS = (
    "Star Wars: Episode IV - A New Hope",
    "Star Wars: Episode V - The Empire Strikes Back",
    "Star Wars: Episode VI - Return of the Jedi",
)
MODEL_ROWS = ("blend", "content", "cf", "ncf", "item2item")
PASSWORD = "correct-horse-1"  # pragma: allowlist secret


def sign_up(page) -> str:
    name = f"web{uuid.uuid4().hex[:10]}"
    page.goto("/signup")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/for-you"))
    expect(page.get_by_role("status")).to_contain_text("Welcome")
    return name


def rows(page, cold: bool = False) -> dict[str, list[str]]:
    """Movie ids per recommendation row of the For you page, after checking each card
    (a user without history has no collaborative rows yet)."""
    page.goto("/for-you")
    out = {}
    for key in MODEL_ROWS:
        row = page.locator(f'section[data-row="{key}"]')
        if cold and key in ("cf", "item2item"):
            expect(row.locator(".empty")).to_contain_text("Add or rate a few movies")
            out[key] = []
            continue
        expect(row.locator(".card").first).to_be_visible()
        reasons = row.locator(".reason").all_inner_texts()
        assert reasons and all(r.strip() for r in reasons), (key, reasons)
        out[key] = row.locator(".card").evaluate_all("cs => cs.map(c => c.dataset.movieId)")
    return out


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_sign_up_search_add_recommend_remove(
    new_context, offsite: Offsite, screenshots: Path
) -> None:
    page = new_context(viewport={"width": 1100, "height": 760}).new_page()
    sign_up(page)
    expect(page.locator(".degraded")).to_have_count(0)
    cold = rows(page, cold=True)

    page.get_by_label("Search movies by title").fill("star wars")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Results for “star wars”")
    for title in STAR_WARS:
        result = page.locator(".result", has=page.get_by_role("heading", name=title, exact=True))
        result.get_by_role("button", name="+ Add to My List").click()
        expect(page.locator(".notice")).to_contain_text("Added to your list")
        expect(result.get_by_role("button", name="Remove from My List")).to_be_visible()
    page.screenshot(path=screenshots / "search.png")

    page.get_by_role("link", name="My List").click()
    expect(page.locator("#my-list .result")).to_have_count(3)

    # Every row fills from the list alone (item-to-item neighbours of the listed movies).
    warm = rows(page)
    assert warm["blend"] != cold["blend"] and warm["content"] != cold["content"]
    titles = page.locator('section[data-row="content"] .card-title').all_inner_texts()
    assert sum("Star" in t for t in titles) >= 3, titles  # neighbours of the list
    liked = page.locator('section[data-row="item2item"] h2').inner_text()
    assert liked.startswith("Because you liked Star Wars"), liked
    page.screenshot(path=screenshots / "for-you.png")

    page.get_by_role("link", name="My List").click()
    page.get_by_role("link", name=STAR_WARS[0]).click()
    page.get_by_label("Your rating").select_option("5.0")
    page.get_by_role("button", name="Rate").click()
    expect(page.locator(".notice")).to_have_text("Rating saved.")

    fresh = new_context(viewport={"width": 1100, "height": 760}).new_page()
    sign_up(fresh)
    assert rows(fresh, cold=True)["blend"] != warm["blend"]

    page.goto("/my-list")
    page.get_by_role("button", name=f"Remove {STAR_WARS[1]} from My List").click()
    expect(page.locator(".notice")).to_contain_text("Removed")
    expect(page.locator("#my-list .result")).to_have_count(2)
    expect(page.locator("#my-list")).not_to_contain_text(STAR_WARS[1])
    page.screenshot(path=screenshots / "my-list.png")
    after = rows(page)
    assert after != warm
    page.screenshot(path=screenshots / "for-you-after-remove.png")
    assert offsite.urls == []


def test_movie_page_rate_similar_and_trailer_on_click(
    new_context, offsite: Offsite, screenshots: Path
) -> None:
    page = new_context(viewport={"width": 1100, "height": 760}).new_page()
    sign_up(page)
    page.goto("/movie/1")  # Toy Story: has a trailer in ml-youtube
    expect(page.get_by_role("heading", level=1)).to_contain_text("Toy Story")
    expect(page.locator("#row-similar .card").first).to_be_visible()
    page.get_by_label("Your rating").select_option("4.5")
    page.get_by_role("button", name="Rate").click()
    expect(page.locator(".notice")).to_have_text("Rating saved.")
    expect(page.get_by_text("You rated it 4.5 ★.")).to_be_visible()
    link = page.get_by_role("link", name="Watch the trailer on YouTube")
    expect(link).to_have_attribute("href", re.compile(r"^https://www\.youtube\.com/watch\?v="))
    page.screenshot(path=screenshots / "movie.png")
    assert offsite.urls == []  # nothing leaves loopback until the trailer is asked for
    page.get_by_role("button", name="Play trailer here").click()
    expect(page.locator(".trailer iframe")).to_have_count(1)
    page.wait_for_timeout(200)
    assert offsite.urls and all("youtube-nocookie.com/embed/" in u for u in offsite.urls)


def test_phone_width(new_context, screenshots: Path) -> None:
    page = new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    ).new_page()
    page.goto("/")
    expect(page.locator('section[data-row="popular"] .card').first).to_be_visible()
    expect(page.get_by_role("link", name="Sign up")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.screenshot(path=screenshots / "phone-home.png")
    sign_up(page)
    assert no_horizontal_scroll(page)
    page.goto("/movie/260")
    expect(page.get_by_role("button", name="+ Add to My List")).to_be_visible()
    assert no_horizontal_scroll(page)
    page.screenshot(path=screenshots / "phone-movie.png")


def _tab_to(page, predicate: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {predicate})(document.activeElement)"):
            return
    raise AssertionError(f"keyboard focus never reached: {predicate}")


def test_keyboard_only(new_context) -> None:
    page = new_context(viewport={"width": 1100, "height": 760}).new_page()
    page.goto("/signup")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    _tab_to(page, "el.id === 'username'")
    page.keyboard.type(f"kb{uuid.uuid4().hex[:10]}")
    _tab_to(page, "el.id === 'password'")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/for-you"))

    page.goto("/")
    _tab_to(page, "el.id === 'q'")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.type("alien")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=alien"))
    _tab_to(page, "el.matches('.result h2 a')")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/movie/\d+$"))
    _tab_to(page, "el.textContent.includes('Add to My List')")
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_contain_text("Added to your list")


def test_errors_in_words(new_context) -> None:
    context = new_context()
    page = context.new_page()
    page.goto("/signin")
    page.get_by_label("Username").fill("nobody-here")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password.")

    page.goto("/signup")
    page.evaluate("document.querySelector('form.stack').noValidate = true")
    page.get_by_label("Username").fill("x")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Username: use 3–64 letters")
    expect(alert).to_contain_text("Password: use at least 8 characters.")

    forged = context.request.post("/signout", form={"csrf": "forged"})
    assert forged.status == 403 and "not accepted" in forged.text()
    missing = context.request.get("/movie/999999999")
    assert missing.status == 404 and "There is no movie with id 999999999." in missing.text()
    page.goto("/for-you")
    expect(page).to_have_url(re.compile(r"/signin\?next=/for-you"))


def test_degraded_answers_say_so(new_context, degraded_stack) -> None:
    """With every gRPC service down, pages still work and each fallback says so."""
    page = new_context(base_url=degraded_stack.base_url).new_page()
    page.goto("/")
    expect(page.locator('section[data-row="popular"] .card').first).to_be_visible()
    sign_up(page)
    page.goto("/movie/260")
    page.get_by_role("button", name="+ Add to My List").click()
    expect(page.locator(".notice")).to_contain_text("Added to your list")
    expect(page.locator("#row-similar .degraded")).to_contain_text("popular movies of the same")
    expect(page.locator("#row-similar .card").first).to_be_visible()
    page.goto("/for-you")
    blend = page.locator('section[data-row="blend"]')
    expect(blend.locator(".degraded")).to_contain_text("Popular picks for now")
    expect(blend.locator(".card").first).to_be_visible()
    expect(page.locator(".degraded").first).to_be_visible()
    for text in page.locator(".degraded").all_inner_texts():  # words for a movie fan
        assert not re.search(r"service|database|ranking|candidates|grpc|timeout", text, re.I)
