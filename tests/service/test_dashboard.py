"""The operators' dashboard in headless Chromium (Debian's, through Playwright) against a real server.

uvicorn serves the real app (embedded executor, SQLite in tmp_path) on a free loopback port; an admin key is
made through the store. The browser logs in, submits a noisy synthetic clip, follows its loop live from the
event stream, plays the repaired audio and checks the plots, spectrograms and fleet numbers, with no console
error, failed request or request to another origin. The last screenshot is copied to bench/results/dashboard.png.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from avagent.core.media import load_clip, write_video_with_audio
from avagent.core.simulate import Noise, simulate
from avagent.core.synthetic_av import make_clip
from avagent.service import create_app
from avagent.service.security import create_key
from tests.service.conftest import service_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"  # Debian's build: never `playwright install` (STACK.md pitfall 9)
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "bench" / "results" / "dashboard.png"
VIEWPORT = {"width": 1600, "height": 1200}
TIMEOUT_MS = 60_000  # a job of a 4 s clip takes about 3 s here; generous for a loaded 2-core machine
FINAL = ("succeeded", "failed", "cancelled")


@dataclass
class LiveServer:
    url: str
    key: str


@dataclass
class Watch:
    """Everything the page did wrong: console errors, uncaught exceptions, failed or foreign requests."""

    origin: str
    problems: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self._failed(r.url, r.failure))
        page.on("request", lambda r: self._foreign(r.url))
        page.on("response", lambda r: self._status(r.status, r.url))

    def _failed(self, url: str, failure: str | None) -> None:
        # Media elements cancel their own range requests once they have what they need: not a failure.
        if failure != "net::ERR_ABORTED":
            self.problems.append(f"request failed: {url} ({failure})")

    def _foreign(self, url: str) -> None:
        if not url.startswith((self.origin, "data:", "blob:")):
            self.problems.append(f"request to another origin: {url}")

    def _status(self, status: int, url: str) -> None:
        if status >= 400:
            self.problems.append(f"HTTP {status}: {url}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real app under uvicorn in a thread, on a socket bound to a free loopback port."""
    app = create_app(service_settings(tmp_path_factory.mktemp("dashboard")))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, ws="none")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    _, key = create_key(app.state.service.store, "dashboard-operator", "admin")
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", key)
    finally:
        uv.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def noisy_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4 s synthetic talking-head clip with pink noise at 5 dB SNR: the loop has something to repair."""
    d = tmp_path_factory.mktemp("dashboard_clip")
    clean = make_clip(d / "clean.mp4", seed=3, duration_s=4, size=(160, 120)).path
    clip = load_clip(clean)
    noisy = simulate(clip.audio, clip.sample_rate, [Noise("pink", 5.0)], seed=1)
    return write_video_with_audio(clean, noisy.audio, clip.sample_rate, d / "noisy-talk.mp4")


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_page_and_assets_come_from_the_package_under_a_strict_policy(server):
    status, headers, _ = _get(f"{server.url}/dashboard")
    assert status == 308 and headers["location"] == "dashboard/"
    status, headers, body = _get(f"{server.url}/dashboard/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in headers["content-security-policy"] and b'src="static/app.js"' in body
    for name in re.findall(r'(?:src|href)="static/([^"]+)"', body.decode()):
        status, headers, _ = _get(f"{server.url}/dashboard/static/{name}")
        assert status == 200 and headers["content-type"].split(";")[0] in ("text/javascript", "text/css"), name
    for bad in ("..%2F..%2Fapp.py", "index.html", "..%2Froutes%2Fdashboard.py", "app.py"):
        assert _get(f"{server.url}/dashboard/static/{bad}")[0] == 404, bad
    for helper in ("config.json", f"jobs/{'0' * 32}"):  # the page's helpers need a key like the API
        assert _get(f"{server.url}/dashboard/{helper}")[0] == 401, helper


def test_a_wrong_key_is_refused_in_the_login_form(server, chromium):
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    watch = Watch(server.url)
    watch.attach(page)
    page.goto(f"{server.url}/dashboard/")
    page.get_by_label("API key").fill("avk_not-a-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#login-error")).to_contain_text("not valid")
    expect(page.locator("#app")).to_be_hidden()
    context.close()
    # The refused login is the only complaint: a 401 and Chromium's console note about it, no script error.
    assert all("401" in p for p in watch.problems), watch.problems


def test_operator_submits_a_clip_and_follows_its_loop_live(server, chromium, noisy_clip, tmp_path):
    started = time.monotonic()
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch(server.url)
    watch.attach(page)

    # Log in: the key goes into an HttpOnly cookie; the page shows who is signed in.
    page.goto(f"{server.url}/dashboard/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "login-key"  # keyboard users can type at once
    page.keyboard.type(server.key)
    page.keyboard.press("Enter")
    expect(page.locator("#who-name")).to_have_text("dashboard-operator")
    assert "avagent_key" in {c["name"] for c in context.cookies()}
    expect(page.locator('[data-stat="queue-depth"] .stat-value')).to_have_text(re.compile(r"^\d+$"))
    expect(page.locator('[data-stat="workers"] .stat-value')).to_have_text(re.compile(r"^\d+ / \d+$"))
    _assert_accessible_basics(page)
    page.screenshot(path=tmp_path / "1-logged-in.png")

    # Submit through the form; record every status the job view shows, and mark the document: a reload would
    # lose the mark.
    page.evaluate(
        """() => {
            window.__sameDocument = true;
            window.__statuses = [];
            new MutationObserver(() => {
                const s = document.querySelector('#job').dataset.status;
                if (s && window.__statuses.at(-1) !== s) window.__statuses.push(s);
            }).observe(document.querySelector('#job'), {attributes: true, attributeFilter: ['data-status']});
        }"""
    )
    page.get_by_label("Video file (with its sound)").set_input_files(noisy_clip)
    page.get_by_label("Max iterations").fill("3")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#submit-status")).to_contain_text("Submitted as")
    page.wait_for_url(re.compile(r"#/jobs/[0-9a-f]{32}$"))
    job_id = page.url.rsplit("/", 1)[1]
    expect(page.locator(f'#jobs-rows tr[data-job-id="{job_id}"]')).to_be_visible()

    # The loop, live: iterations with scores appear in the timeline and the job reaches a final state.
    expect(page.locator("#job")).to_have_attribute("data-status", re.compile("running|succeeded"), timeout=TIMEOUT_MS)
    page.screenshot(path=tmp_path / "2-running.png")
    first_row = page.locator('#timeline li[data-iteration="1"]')
    for score in ("alignment", "sync"):
        value = first_row.locator(f'[data-score="{score}"] strong')
        expect(value).to_have_text(re.compile(r"^\d\.\d{3}$"), timeout=TIMEOUT_MS)
    _wait_until(page, f"{list(FINAL)}.includes(document.querySelector('#job').dataset.status)")
    statuses = page.evaluate("window.__statuses")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert statuses[0] not in FINAL and statuses[-1] == "succeeded", statuses  # followed, not loaded finished
    live_events = int(page.locator("#job").get_attribute("data-live-events"))
    assert live_events >= 6, live_events  # queued, running, perceive, reflect_original, plan ... from the stream
    expect(page.locator("#job-live")).to_contain_text("followed live")
    expect(first_row).to_have_attribute("data-verdict", re.compile("accepted|rejected"))
    expect(first_row.locator(".reasoning")).not_to_be_empty()
    expect(page.locator("#job-facts")).to_contain_text("stop reason")

    # Diagnostics and captions of the original and the kept candidate.
    diag = page.locator(".diag-table")
    expect(diag.get_by_role("row", name=re.compile("SNR"))).to_contain_text(re.compile(r"\d+\.\d"))
    expect(diag.get_by_role("row", name=re.compile("Noise type")).locator("td").first).to_have_text(
        re.compile("^[a-z]")
    )
    expect(diag.get_by_role("row", name=re.compile("Offset confidence"))).to_contain_text(re.compile(r"\d\.\d\d"))
    expect(page.locator(".captions .caption")).to_have_count(2)

    # Plots: one point per scored iteration plus the original, and the threshold line at the job's 0.85.
    for series in ("alignment", "sync"):
        plot = page.locator(f"svg.plot-{series}")
        assert plot.locator("circle.point").count() >= 2
        assert plot.locator(".threshold-label").text_content().startswith("0.85")
        assert plot.bounding_box()["width"] > 100

    # Spectrograms decoded, and the repaired audio loads and plays.
    for which in ("original", "repaired"):
        _wait_until(
            page,
            f"(img => img && img.complete && img.naturalWidth > 0)(document.querySelector('#spectrogram-{which}'))",
        )
        _wait_until(page, f"(a => a && a.readyState >= 1 && a.duration > 0)(document.querySelector('#audio-{which}'))")
    played = page.evaluate(
        "async () => { const a = document.querySelector('#audio-repaired');"
        " try { await a.play(); return 'resolved'; } catch (e) { return String(e); } }"
    )
    assert played == "resolved", played
    _wait_until(page, "document.querySelector('#audio-repaired').currentTime > 0.05")
    page.evaluate("document.querySelector('#audio-repaired').pause()")

    # The fleet view counts the finished job and the accepted action.
    finished = page.locator('[data-stat="finished-5m"] .stat-value')
    expect(finished).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=15_000)
    expect(page.locator(".actions-table tbody tr").first).to_contain_text("/")

    # The list's filters: by status (server side); a malformed batch id is caught in the page.
    filters = page.locator("#jobs-filter")
    filters.get_by_label("Status").select_option("failed")
    filters.get_by_role("button", name="Apply").click()
    expect(page.locator("#jobs-rows")).to_contain_text("No jobs match")
    filters.get_by_label("Status").select_option("succeeded")
    filters.get_by_role("button", name="Apply").click()
    expect(page.locator(f'#jobs-rows tr[data-job-id="{job_id}"]')).to_be_visible()
    filters.get_by_label("Batch id").fill("not-a-batch")
    filters.get_by_role("button", name="Apply").click()
    expect(page.locator("#jobs-error")).to_contain_text("32 hex digits")
    filters.get_by_label("Batch id").fill("")
    filters.get_by_label("Status").select_option("")
    filters.get_by_role("button", name="Apply").click()
    expect(page.locator("#jobs-error")).to_be_hidden()

    page.locator("#job").scroll_into_view_if_needed()
    shot = tmp_path / "3-finished.png"
    page.screenshot(path=shot, full_page=True)
    context.close()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT)

    assert not watch.problems, "\n".join(watch.problems)
    print(f"dashboard flow {time.monotonic() - started:.1f} s, {live_events} live events, statuses {statuses}")


def _wait_until(page: Page, expression: str, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Poll a JS expression through page.evaluate (wait_for_function evaluates strings, which the page's CSP
    forbids: the policy stays on so that a request to another origin would show up)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"not true after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


def _assert_accessible_basics(page: Page) -> None:
    """Every visible form control has a label, and the job links of the list are reachable with Tab."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.id || el.name)"""
    )
    assert not unlabelled, unlabelled
    page.locator("#filter-limit").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Apply"
