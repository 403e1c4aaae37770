"""drift studio: the HTTP rules (Starlette's TestClient), and the page as a person uses it (Debian's Chromium, driven
by Playwright): describe → a draft; a typo'd cue → its diagnostic on its line; preview a section; render it; the
library lists it; a description that must be stopped; a save over a file changed elsewhere. Screenshots of each
state are kept in build/test-artefacts/studio-*.png, to be looked at."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, processes_with

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "scripts"
ARTEFACTS = ROOT / "build" / "test-artefacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STOP = "everyone would be better off without me"
DESCRIPTION = "when he goes quiet after a fight I panic and keep texting him"


@pytest.fixture()
def folders(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(LIBRARY / "turning-toward.txt", scripts)
    shutil.copy(FIXTURES / "short.txt", scripts)
    return scripts, tmp_path / "build"


def client_for(folders, cache_dir, host="127.0.0.1", token=None):
    """A TestClient of a studio as ``drift studio`` makes it, its address as the browser would name it."""
    from starlette.testclient import TestClient

    from pipeline.studio import prepare_studio

    bound = prepare_studio(*folders, cache_dir, host, 0, token, warm=False)
    port = bound.sock.getsockname()[1]
    bound.sock.close()
    name = "127.0.0.1" if host in ("0.0.0.0", "127.0.0.1") else host
    client = TestClient(bound.app, base_url=f"http://{name}:{port}")
    client.origin = f"http://{name}:{port}"
    client.token = bound.url.partition("?token=")[2] or None
    return client


def page_csrf(client, **kwargs) -> dict:
    """Load the page as a browser does; the headers its scripts send with a change."""
    page = client.get("/", **kwargs)
    assert page.status_code == 200, page.text
    csrf = re.search(r'<meta name="csrf" content="([0-9a-f]{64})">', page.text).group(1)
    return {"X-CSRF-Token": csrf, "Origin": client.origin}


@pytest.fixture()
def studio(folders, cache_dir):
    client = client_for(folders, cache_dir)
    return client, page_csrf(client), folders


# --- the HTTP rules ---------------------------------------------------------------------------------


def test_the_page_and_its_script_and_style_come_from_the_package(studio):
    client, _, _ = studio
    page = client.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from a CDN
    for asset in ("/static/studio.js", "/static/studio.css"):
        response = client.get(asset)
        assert response.status_code == 200 and "http://" not in response.text and "https://" not in response.text


def test_a_change_without_the_pages_csrf_token_or_from_another_origin_is_refused(studio):
    client, headers, _ = studio
    body = {"path": "short.txt", "text": "Hello."}
    assert client.post("/api/lint", json=body, headers=headers).status_code == 200
    missing = client.post("/api/lint", json=body, headers={"Origin": client.origin})
    assert missing.status_code == 403 and "reload the page" in missing.json()["error"]
    wrong = client.post("/api/lint", json=body, headers={**headers, "X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    elsewhere = client.post("/api/lint", json=body, headers={**headers, "Origin": "http://evil.example"})
    assert elsewhere.status_code == 403 and "Origin" in elsewhere.json()["error"]
    nowhere = client.post("/api/lint", json=body, headers={"X-CSRF-Token": headers["X-CSRF-Token"]})
    assert nowhere.status_code == 403  # neither Origin nor Referer
    referred = client.post(
        "/api/lint", json=body, headers={"X-CSRF-Token": headers["X-CSRF-Token"], "Referer": client.origin + "/"}
    )
    assert referred.status_code == 200
    other_session = client_for(studio[2], None)
    assert other_session.post("/api/lint", json=body, headers=headers).status_code == 403  # another studio's token


def test_a_host_header_naming_another_site_is_refused(studio):
    """A web page that rebinds its own name to 127.0.0.1 cannot reach the studio."""
    client, _, _ = studio
    port = client.origin.rsplit(":", 1)[1]
    assert client.get("/api/state", headers={"Host": f"rebound.example:{port}"}).status_code == 403
    assert client.get("/api/state", headers={"Host": f"localhost:{port}"}).status_code == 200
    assert client.get("/api/state", headers={"Host": "127.0.0.1:1"}).status_code == 403


def test_off_the_loopback_every_request_needs_the_token(folders, cache_dir):
    client = client_for(folders, cache_dir, host="0.0.0.0")
    assert client.token and len(client.token) >= 16  # made, and printed in the address
    for path in ("/", "/api/state", "/static/studio.js", "/out/library.json"):
        refused = client.get(path)
        assert refused.status_code == 401 and "token" in refused.json()["error"]
    assert client.get("/api/state", params={"token": "x" * 32}).status_code == 401
    assert client.get("/api/state", headers={"X-Drift-Token": client.token}).status_code == 200
    opened = client.get("/", params={"token": client.token})  # the printed address: the cookie carries it after
    assert opened.status_code == 200 and "HttpOnly" in opened.headers["set-cookie"]
    assert client.get("/api/state").status_code == 200
    given = client_for(folders, cache_dir, host="0.0.0.0", token="a-token-of-our-own-making")
    assert given.token == "a-token-of-our-own-making"
    from pipeline.errors import ConfigError
    from pipeline.studio import prepare_studio

    with pytest.raises(ConfigError, match="at least 16"):
        prepare_studio(*folders, cache_dir, "127.0.0.1", 0, "short")


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "/etc/passwd.txt", "drafts/../../secret.txt", ".hidden.txt", "link/secret.txt", "short.yaml", ""],
)
def test_paths_outside_the_folder_are_refused(studio, path):
    client, headers, (scripts, out) = studio
    (scripts.parent / "secret.txt").write_text("---\ntitle: secret\n---\nNot yours.\n")
    (scripts / "link").symlink_to(scripts.parent, target_is_directory=True)
    read = client.get("/api/script", params={"path": path})
    assert read.status_code in (400, 403, 404) and "error" in read.json()
    write = client.put("/api/script", json={"path": path, "text": "x", "base_sha256": None}, headers=headers)
    assert write.status_code in (400, 403, 404)
    assert (scripts.parent / "secret.txt").read_text().endswith("Not yours.\n")


def test_output_files_are_served_only_from_the_output_folder(studio):
    client, _, (scripts, out) = studio
    out.mkdir(exist_ok=True)
    (out / "feed.xml").write_text("<rss/>")
    (out / ".drift.lock").write_text("pid 1")
    assert client.get("/out/feed.xml").text == "<rss/>"
    for path in ("/out/.drift.lock", "/out/../scripts/short.txt", "/out/%2e%2e/scripts/short.txt", "/out/nothing.flac"):
        assert client.get(path).status_code in (403, 404), path


def test_a_body_over_the_limit_is_refused(studio):
    client, headers, _ = studio
    big = {"path": "short.txt", "text": "Breathe. " * 40_000}
    refused = client.post("/api/lint", json=big, headers=headers)
    assert refused.status_code == 413 and "256 KB" in refused.json()["error"]

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 10_000

    streamed = client.post("/api/lint", content=chunks(), headers={**headers, "Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_a_save_over_a_file_changed_elsewhere_is_a_409_until_the_person_says_so(studio):
    client, headers, (scripts, _) = studio
    opened = client.get("/api/script", params={"path": "short.txt"}).json()
    (scripts / "short.txt").write_text(opened["text"] + "\nChanged in another editor.\n")
    mine = opened["text"] + "\nMine.\n"
    stale = client.put(
        "/api/script", json={"path": "short.txt", "text": mine, "base_sha256": opened["sha256"]}, headers=headers
    )
    assert stale.status_code == 409 and "changed elsewhere" in stale.json()["error"]
    assert (scripts / "short.txt").read_text().endswith("Changed in another editor.\n")
    confirmed = client.put(
        "/api/script",
        json={"path": "short.txt", "text": mine, "base_sha256": stale.json()["current_sha256"]},
        headers=headers,
    )
    assert confirmed.status_code == 200 and (scripts / "short.txt").read_text() == mine
    assert not [p for p in scripts.iterdir() if p.name.startswith(".")]  # written under a hidden name, renamed
    new = client.put("/api/script", json={"path": "new.txt", "text": "Hello.", "base_sha256": None}, headers=headers)
    assert new.status_code == 200
    again = client.put("/api/script", json={"path": "new.txt", "text": "Again.", "base_sha256": None}, headers=headers)
    assert again.status_code == 409


def test_a_copy_lint_was_reading_when_a_studio_was_killed_is_cleared_at_the_next_start(folders, cache_dir):
    scripts, _ = folders
    left = scripts / ".short.txt.x1y2.studio-lint"
    left.write_text("Hello.")
    client_for(folders, cache_dir)
    assert not left.exists() and (scripts / "short.txt").exists()


def test_lint_as_the_person_types_is_drift_lint_style(studio):
    client, headers, (scripts, _) = studio
    text = (scripts / "turning-toward.txt").read_text()
    broken = text.replace("Take a moment to arrive here.", "Take a moment to arrive here. [bedd ocean]")
    line = next(n for n, text in enumerate(broken.splitlines(), start=1) if "[bedd ocean]" in text)
    answer = client.post("/api/lint", json={"path": "turning-toward.txt", "text": broken}, headers=headers).json()
    assert answer["errors"] == 1
    (only,) = answer["diagnostics"]
    assert only == {
        "line": line,
        "col": only["col"],
        "message": "unknown cue '[bedd ocean]'",
        "hint": "did you mean 'bed'?",
        "severity": "error",
        "file": None,
    }
    assert broken.splitlines()[line - 1][only["col"] - 1 :].startswith("[bedd ocean]")
    assert (scripts / "turning-toward.txt").read_text() == text  # nothing written
    assert sorted(p.name for p in scripts.iterdir()) == [
        "short.txt",
        "turning-toward.txt",
    ]  # the copy lint read is gone


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in LIBRARY.glob("*.txt")))
def test_lint_of_text_in_memory_says_what_lint_with_style_says_of_the_file(tmp_path, name):
    """The editor's lint and drift lint --style agree on every library script, and on it broken in the ways a person
    breaks one (a typo'd cue, an unknown voice, a bad front-matter value, a stray bracket): the copy lint reads is
    read as the script would be, and what it reports is placed in the script."""
    from pipeline.draft.check import lint_with_style
    from pipeline.studio.lint import lint_text

    text = (LIBRARY / name).read_text(encoding="utf-8")
    variants = [
        text,
        text.replace("[pause", "[paws", 1),
        text.replace("voice: default", "voice: defualt", 1),
        text.replace("profile: podcast", "profile: loud", 1),
        text + "\nA stray [bracket.\n",
        text.replace("## ", "##", 1),
        "Just one line, no front matter.",
    ]
    for n, variant in enumerate(variants):
        path = tmp_path / name
        path.write_text(variant, encoding="utf-8")
        said = lambda problems: [(type(p).__name__, p.message, str(p.source)) for p in problems]
        assert said(lint_text(variant, path)) == said(lint_with_style(path)), f"variant {n}"


def test_a_problem_in_another_file_is_shown_with_that_file_not_on_the_scripts_lines(tmp_path):
    from pipeline.errors import ConfigError, ScriptWarning, Source
    from pipeline.studio.lint import Diagnostic

    script = tmp_path / "s.txt"
    elsewhere = Diagnostic.of(
        ConfigError("unknown key 'rat' (did you mean 'rate')", Source("voices/x.toml", 3, 1)), script
    )
    assert (elsewhere.file, elsewhere.line, elsewhere.message, elsewhere.hint) == (
        "voices/x.toml",
        3,
        "unknown key 'rat'",
        "did you mean 'rate'?",
    )
    here = Diagnostic.of(ScriptWarning("a sentence of 31 words", Source(str(script), 9, 4)), script)
    assert (here.file, here.line, here.col, here.severity, here.hint) == (None, 9, 4, "warning", "")


def test_a_description_that_must_be_stopped_gets_resources_and_writes_nothing(studio):
    client, headers, (scripts, out) = studio
    before = sorted(p.relative_to(scripts.parent) for p in scripts.parent.rglob("*"))
    answer = client.post("/api/draft", json={"description": STOP, "minutes": 10}, headers=headers)
    assert answer.status_code == 200
    data = answer.json()
    assert data["stopped"] and "988" in json.dumps(data["resources"]) and data["message"]
    assert STOP not in json.dumps(data)
    assert sorted(p.relative_to(scripts.parent) for p in scripts.parent.rglob("*")) == before


@pytest.mark.slow
def test_a_description_is_kept_only_when_the_person_ticks_the_box(studio):
    client, headers, (scripts, _) = studio
    answer = client.post(
        "/api/draft", json={"description": DESCRIPTION, "minutes": 5, "name": "Sam"}, headers=headers
    ).json()
    assert not answer["stopped"] and answer["path"].startswith("drafts/") and answer["errors"] == 0
    assert answer["understanding"]["chosen"][0]["id"] == "pursue-withdraw"
    assert (
        answer["understanding"]["themes"][0]["confidence"] > 0.2 and answer["understanding"]["situation"] == "texting"
    )
    drafted = scripts / answer["path"]
    assert drafted.read_text() == answer["text"] and DESCRIPTION not in answer["text"]
    assert not list(scripts.rglob("*.intake.yaml"))
    kept = client.post(
        "/api/draft", json={"description": DESCRIPTION, "minutes": 5, "name": "Sam", "keep": True}, headers=headers
    ).json()
    (intake,) = scripts.rglob("*.intake.yaml")
    assert kept["kept"] and DESCRIPTION in intake.read_text()


@pytest.mark.slow
def test_a_wrong_setting_is_one_line_and_never_a_stack_trace(studio):
    client, headers, _ = studio
    for body in (
        {"description": DESCRIPTION, "minutes": 500},
        {"description": ""},
        {"description": DESCRIPTION, "voice": "nobody"},
        {"description": 12},
        {"minutes": 5},
    ):
        answer = client.post("/api/draft", json=body, headers=headers)
        assert answer.status_code == 400, body
        assert "\n" not in answer.json()["error"] and "Traceback" not in answer.text
    assert client.post("/api/draft", content=b"{not json", headers=headers).status_code == 400
    missing = client.post("/api/preview", json={"path": "short.txt", "section": "Nowhere"}, headers=headers)
    assert missing.status_code == 400 and "no section 'Nowhere'" in missing.json()["error"]
    assert client.get("/api/nothing").status_code == 404


@pytest.mark.slow
def test_one_render_at_a_time_per_track_and_a_stop_ends_it(studio):
    client, headers, (scripts, out) = studio
    with client.stream("POST", "/api/render", json={"path": "short.txt"}, headers=headers) as first:
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/event-stream")
        lines = first.iter_lines()
        assert next(lines) == "event: start"
        second = client.post("/api/render", json={"path": "short.txt"}, headers=headers)
        assert second.status_code == 409 and "already being rendered" in second.json()["error"]
        stopped = client.delete("/api/render", params={"path": "short.txt"}, headers=headers)
        assert stopped.json() == {"stopped": True}
        rest = "\n".join(lines)
    assert "event: error" in rest and "stopped" in rest
    assert not [p for p in (out.glob("short.*") if out.exists() else []) if p.suffix != ".json"]


@pytest.mark.slow
def test_an_open_scripts_phrases_are_spoken_ahead_in_a_process_of_their_own(folders, tmp_path):
    from pipeline.job import RenderOptions, prepare
    from pipeline.speech import ClipCache, synthesize
    from pipeline.studio.warm import Warmer

    scripts, _ = folders
    cache = tmp_path / "cache"
    warmer = Warmer(cache)
    warmer.want(scripts / "turning-toward.txt")
    first = warmer._process
    assert warmer.speaking() == scripts / "turning-toward.txt"
    warmer.want(scripts / "short.txt")  # another script opened: the first is ended
    assert first.poll() is not None and warmer.speaking() == scripts / "short.txt"
    warmer.settle(scripts / "short.txt")  # a preview of it waits for its phrases
    assert warmer.speaking() is None and warmer._process.returncode == 0
    job = prepare(scripts / "short.txt", RenderOptions(cache_dir=cache, draft=True))
    spoken = ClipCache(cache)
    synthesize(job.script, job.voices, spoken)
    assert spoken.misses == 0 and spoken.hits > 0  # every phrase was there
    warmer.want(scripts / "turning-toward.txt")
    warmer.stop()
    assert warmer.speaking() is None


# --- the studio as a server: nothing logged, a closed tab stops a render ----------------------------------


class Server:
    """``drift studio`` run as a person runs it, its output kept to be searched."""

    def __init__(self, folder: Path, out: Path, cache_dir: Path, logs: Path, *options: str):
        self.logs = logs
        self.out = out
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline",
                "studio",
                str(folder),
                "-o",
                str(out),
                "--no-browser",
                "--cache",
                str(cache_dir),
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=open(logs, "w"),
            text=True,
            cwd=ROOT,
        )
        line = self.process.stdout.readline()
        match = re.search(r"(http://[^\s]+)", line)
        assert match, line + logs.read_text()
        self.url = match.group(1)
        self.port = int(re.search(r":(\d+)/", self.url).group(1))

    def output(self) -> str:
        return self.logs.read_text()

    def close(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _post(server: Server, path: str, body: dict, csrf: str, cookie: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request(
        "POST",
        path,
        json.dumps(body),
        {
            "Content-Type": "application/json",
            "X-CSRF-Token": csrf,
            "Origin": f"http://127.0.0.1:{server.port}",
            "Cookie": cookie,
        },
    )
    return connection.getresponse()


def _open_page(server: Server) -> tuple[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/")
    page = connection.getresponse()
    cookie = page.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" content="([0-9a-f]+)"', page.read().decode()).group(1)
    return csrf, cookie


@pytest.mark.slow
def test_the_description_is_never_logged_and_a_closed_tab_stops_its_render(folders, cache_dir, tmp_path):
    scripts, out = folders
    server = Server(scripts, out, cache_dir, tmp_path / "studio.log")
    try:
        csrf, cookie = _open_page(server)
        secret = "when my husband Bartholomew goes quiet after a fight I keep texting him"
        answer = _post(server, "/api/draft", {"description": secret, "minutes": 5}, csrf, cookie)
        assert answer.status == 200 and not json.loads(answer.read())["stopped"]
        stopped = _post(server, "/api/draft", {"description": STOP + " Bartholomew"}, csrf, cookie)
        assert stopped.status == 200 and json.loads(stopped.read())["stopped"]

        render = _post(server, "/api/render", {"path": "short.txt"}, csrf, cookie)
        assert render.status == 200
        seen = b""
        while b"event: progress" not in seen:
            seen += render.read1(4096)
        worker = _workers(out)
        assert worker, "the render runs in a process of its own"
        render.close()  # the tab is closed
        deadline = time.monotonic() + 15
        while _workers(out) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _workers(out), "the render went on after its tab closed"
        assert not [p for p in out.glob("short.*") if not p.name.startswith(".")]  # nothing under a final name
    finally:
        server.close()
    logged = server.output()
    assert "Bartholomew" not in logged and "quiet after a fight" not in logged
    assert "POST /api/draft" not in logged  # no access log either


def _workers(out: Path) -> list[int]:
    return [pid for pid in processes_with(str(out.resolve())) if _is_worker(pid)]


def _is_worker(pid: int) -> bool:
    try:
        return b"pipeline.studio.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


# --- the page, in Chromium ------------------------------------------------------------------------------

browser_only = pytest.mark.skipif(not CHROMIUM, reason="Chromium not installed (make test installs Debian's chromium)")
LAUNCH = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory, cache_dir):
    root = tmp_path_factory.mktemp("studio")
    scripts = root / "scripts"
    scripts.mkdir()
    shutil.copy(LIBRARY / "turning-toward.txt", scripts)
    server = Server(scripts, root / "build", cache_dir, root / "studio.log")
    yield server, scripts
    server.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.skip("Chromium not installed (make test installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def tab(browser, served):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.errors = []
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(served[0].url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTEFACTS / f"studio-{name}.png"), full_page=True)


def put_cursor(page, line: int, at_end: bool = True) -> None:
    """The cursor at the end (or start) of a line, as a click there would put it."""
    page.evaluate(
        """([line, atEnd]) => { const t = document.getElementById('text'); const lines = t.value.split('\\n');
        const offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0)
            + (atEnd ? lines[line - 1].length : 0);
        t.focus(); t.setSelectionRange(offset, offset); }""",
        [line, at_end],
    )


def describe(tab) -> None:
    """Describe a challenge and draft a 5-minute session, as a person would; the tests after it work on the draft
    (each drafts it first when run alone)."""
    tab.fill("textarea[name=description]", DESCRIPTION)
    tab.fill("input[name=minutes]", "5")
    tab.fill("input[name=name]", "Sam")
    tab.click("#draft")
    tab.wait_for_function("() => document.getElementById('text').value.includes('title:')", timeout=120_000)


def drafted(tab) -> None:
    if not tab.locator("#file-name").inner_text().startswith("drafts/"):
        describe(tab)
        tab.wait_for_selector("#lint-summary.clean")


@pytest.mark.slow
@browser_only
def test_describe_gives_a_drafted_script_and_what_was_understood(tab, served):
    _, scripts = served
    describe(tab)
    assert tab.locator("#understood").is_visible()
    assert "the pursue–withdraw pattern" in tab.locator("#themes tr.chosen").inner_text()
    assert "texting" in tab.locator("#understood-facts").inner_text()
    assert tab.locator("#file-name").inner_text().startswith("drafts/")
    assert (scripts / tab.locator("#file-name").inner_text()).read_text() == tab.input_value("#text")
    assert not list(scripts.rglob("*.intake.yaml"))
    tab.wait_for_selector("#lint-summary.clean")
    shot(tab, "describe")
    assert tab.errors == []


@pytest.mark.slow
@browser_only
def test_an_unknown_cue_shows_its_diagnostic_on_its_line_and_goes_when_fixed(tab):
    drafted(tab)
    lines = tab.input_value("#text").split("\n")
    body = lines.index("---", 1) + 1  # after the front matter
    line = next(
        n for n, text in enumerate(lines, 1) if n > body + 3 and len(text) > 40 and not text.startswith(("//", "#"))
    )
    put_cursor(tab, line)
    started = time.monotonic()
    tab.keyboard.type(" [bedd ocean]")
    note = tab.locator(f".note[data-line='{line}']")
    note.wait_for(timeout=10_000)
    print(f"keystroke to diagnostic: {time.monotonic() - started:.2f} s")
    assert (
        "unknown cue '[bedd ocean]'" in note.inner_text()
        and "did you mean 'bed'?" in note.locator(".hint").inner_text()
    )
    assert tab.locator(f".gutter span[data-line='{line}']").get_attribute("class") == "lint-error"
    row_top = tab.evaluate(f"() => document.getElementById('mirror').children[{line - 1}].getBoundingClientRect().top")
    assert note.bounding_box()["y"] == pytest.approx(row_top, abs=2)  # beside its line
    assert "1 error" in tab.inner_text("#lint-summary")
    shot(tab, "lint")
    for _ in " [bedd ocean]":
        tab.keyboard.press("Backspace")
    tab.wait_for_selector(".note", state="detached", timeout=10_000)
    tab.wait_for_selector("#lint-summary.clean")
    shot(tab, "lint-fixed")


@pytest.mark.slow
@browser_only
def test_a_second_tab_saving_over_a_changed_file_is_asked_first(tab, served):
    drafted(tab)
    _, scripts = served
    path = scripts / tab.locator("#file-name").inner_text()
    other = tab.context.new_page()
    other.goto(served[0].url)
    other.wait_for_selector("body[data-ready=true]")
    other.select_option("#scripts", tab.locator("#file-name").inner_text())
    other.click("#open")
    other.wait_for_function("() => document.getElementById('text').value.length > 100")
    body = tab.input_value("#text").split("\n").index("---", 1) + 2  # the first line after the front matter
    put_cursor(other, body, at_end=False)
    other.keyboard.type("// from the other tab\n")
    other.click("#save")
    other.wait_for_function("() => document.getElementById('save-status').textContent === 'saved'")
    assert "// from the other tab" in path.read_text()
    put_cursor(tab, body, at_end=False)
    tab.keyboard.type("// from this tab\n")
    tab.click("#save")
    tab.locator("#conflict").wait_for()
    assert "changed elsewhere" in tab.inner_text("#conflict")
    assert "// from this tab" not in path.read_text()  # not overwritten before the person says so
    shot(tab, "conflict")
    tab.click("#overwrite")
    tab.wait_for_function("() => document.getElementById('save-status').textContent === 'saved'")
    assert "// from this tab" in path.read_text() and "// from the other tab" not in path.read_text()
    assert tab.locator("#conflict").is_hidden()
    tab.wait_for_selector("#lint-summary.clean")
    other.close()
    tab.errors[:] = [e for e in tab.errors if "409 (Conflict)" not in e]  # the browser's own line for the asked-for 409


@browser_only
@pytest.mark.slow
def test_preview_this_section_plays_it_in_the_stem_player(tab):
    drafted(tab)
    lines = tab.input_value("#text").split("\n")
    headings = [(n, text.lstrip("# ").strip()) for n, text in enumerate(lines, 1) if text.startswith("## ")]
    line, section = headings[2]
    put_cursor(tab, line + 2)
    assert tab.evaluate("window.studio.sectionAtCursor()") == section
    tab.click("#preview")
    frame = tab.frame_locator("#player")
    tab.wait_for_function(
        """() => { const f = document.getElementById('player'); const w = f.contentWindow;
        return !f.hidden && w && w.preview && Object.values(w.preview.elements).every(a => a.readyState >= 2); }""",
        timeout=180_000,
    )
    assert section in frame.locator(".lane.sections .marker").all_inner_texts()
    assert frame.locator("canvas.wave").count() == 4
    player = tab.frame(url=re.compile(r"preview\.html"))
    assert player.evaluate("window.preview.elements.mix.src").endswith("mix.ogg")
    player.wait_for_function("() => window.preview.elements.mix.currentTime > 0.2", timeout=15_000)  # it plays
    player.evaluate("document.getElementById('play').click()")  # pause it for the picture
    assert "made in" in tab.inner_text("#preview-status") or "reused" in tab.inner_text("#preview-status")
    print(tab.inner_text("#preview-status"))
    shot(tab, "preview")


@browser_only
@pytest.mark.slow
def test_render_streams_its_progress_to_a_qc_verdict_and_the_library_lists_it(tab, served):
    drafted(tab)
    name = Path(tab.locator("#file-name").inner_text()).stem
    assert not tab.is_checked("#release")  # the draft voice by default
    tab.click("#render")
    tab.locator("#progress").wait_for()
    tab.wait_for_selector("#stages li.active", timeout=60_000)
    tab.wait_for_selector("#verdict:not([hidden])", timeout=300_000)
    verdict = tab.inner_text("#verdict")
    assert "quality checks passed" in verdict and "draft voice" in verdict, verdict
    assert re.search(r"Integrated loudness\s+\u22121\d\.\d LUFS \(target \u221216\)", verdict), verdict
    assert tab.evaluate("document.getElementById('bar').style.width") == "100%"
    assert tab.locator("#stages li.done").count() == 5
    tab.locator("#stop").wait_for(state="hidden")
    tab.wait_for_selector("#render:not([disabled])")  # ready for another
    shot(tab, "render")
    row = tab.locator(f"#tracks tr[data-track='{name}']")
    row.wait_for()
    assert "passed" in row.locator(".badge").first.inner_text() and "draft" in row.inner_text()
    assert re.search(r"\d+:\d\d", row.inner_text())
    row.locator("button.play").click()
    tab.wait_for_function("() => document.getElementById('library-player').currentTime > 0.2", timeout=15_000)
    tab.evaluate("document.getElementById('library-player').pause()")
    library = json.loads((served[0].out / "library.json").read_text())
    assert library["tracks"][name]["qc"] == "passed"
    tab.locator("#library").scroll_into_view_if_needed()
    shot(tab, "library")
    assert tab.errors == []


@pytest.mark.slow
@browser_only
def test_a_description_that_must_be_stopped_shows_resources_and_writes_no_file(tab, served):
    _, scripts = served
    before = sorted(scripts.rglob("*"))
    tab.fill("textarea[name=description]", STOP)
    tab.click("#draft")
    tab.locator("#stopped").wait_for(timeout=60_000)
    text = tab.inner_text("#stopped")
    assert "988" in text and "Samaritans" in text and "nothing was written" in text
    assert tab.locator("#understood").is_hidden()
    assert sorted(scripts.rglob("*")) == before
    tab.evaluate("window.scrollTo(0, 0)")
    shot(tab, "stopped")


@pytest.mark.slow
@browser_only
def test_with_a_token_the_page_opens_only_from_the_printed_address(browser, folders, cache_dir, tmp_path):
    scripts, out = folders
    server = Server(scripts, out, cache_dir, tmp_path / "studio.log", "--token", "correct-horse-battery-staple")
    try:
        context = browser.new_context()
        page = context.new_page()
        bare = page.goto(server.url.split("?")[0])
        assert bare.status == 401 and page.inner_text("body").startswith("drift studio: this studio needs its token")
        shot(page, "token-refused")
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        assert "?token" not in page.url  # the cookie carries it now, not the address bar
        page.select_option("#scripts", "short.txt")
        page.click("#open")
        page.wait_for_selector("#lint-summary.clean")  # the page's own calls carry it
        context.close()
    finally:
        server.close()
