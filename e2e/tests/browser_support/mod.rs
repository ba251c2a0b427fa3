//! A real browser for the console's tests: Debian's headless Chromium, driven through
//! its chromedriver (the W3C WebDriver protocol) by fantoccini. Every page the test
//! visits can be photographed and checked the way an administrator with a keyboard, a
//! screen reader or weak eyes would meet it: every field named by a label, every control
//! reachable with Tab and showing where the focus is, text contrast of at least 4.5:1
//! (WCAG 2.1 AA), nothing wider than a laptop's screen.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use testkit::process::{ChildGuard, spawn};

/// A laptop's screen.
const WIDTH: u32 = 1366;
const HEIGHT: u32 = 900;

/// Chromium's flags for a closed machine: no first-run work, no background traffic to
/// Google's services (refused here, and noise anywhere), a profile of its own.
const CHROMIUM_FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A browser session and where its screenshots go.
pub struct Browser {
    pub client: Client,
    shots: PathBuf,
    taken: usize,
    /// Where the browser saves downloads.
    downloads: PathBuf,
    _driver: ChildGuard,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session through it.
    pub async fn start(shots: &Path) -> Browser {
        let driver_binary =
            std::env::var("AUDIT_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        std::fs::create_dir_all(shots).unwrap();
        let log = std::fs::File::create(shots.join("chromedriver.log")).unwrap();
        assert!(
            std::process::Command::new(&driver_binary).arg("--version").output().is_ok(),
            "{driver_binary} not found: install Debian's chromium and chromium-driver (.ci/run does)"
        );
        let driver = spawn(&driver_binary, &[&format!("--port={port}")], log);
        let profile = tempfile::tempdir().unwrap();
        let downloads = profile.path().join("downloads");
        let client = connect(port, &profile, &downloads).await;
        client.set_window_size(WIDTH, HEIGHT).await.unwrap();
        Browser { client, shots: shots.to_owned(), taken: 0, downloads, _driver: driver, _profile: profile }
    }

    /// The first file the browser finished downloading, waiting for it.
    pub async fn downloaded(&self, timeout: Duration) -> PathBuf {
        let deadline = Instant::now() + timeout;
        loop {
            let finished = std::fs::read_dir(&self.downloads).into_iter().flatten().flatten().find(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                !name.ends_with(".crdownload") && !name.starts_with('.')
            });
            if let Some(entry) = finished {
                return entry.path();
            }
            assert!(Instant::now() < deadline, "nothing downloaded into {}", self.downloads.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|error| panic!("{url}: {error}"));
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    /// Fills the field named `name` by typing into it, as a user does.
    pub async fn fill(&self, name: &str, value: &str) {
        let field = self.find(&format!("[name=\"{name}\"]")).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Picks the option `value` of the select named `name`.
    pub async fn choose(&self, name: &str, value: &str) {
        let select = self.find(&format!("select[name=\"{name}\"]")).await;
        select.select_by_value(value).await.unwrap();
    }

    /// Clicks the button or link whose text is `label`, and waits for the next page.
    pub async fn click(&self, label: &str) {
        let page = self.find("html").await;
        self.click_only(label).await;
        // The old page's root goes stale once the next page replaced it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while page.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "{label:?} led to no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the button or link whose text is `label` (a download: the page stays).
    pub async fn click_only(&self, label: &str) {
        let xpath = format!("//button[normalize-space()='{label}'] | //a[normalize-space()='{label}']");
        let target = self.client.find(Locator::XPath(&xpath)).await;
        let target = target.unwrap_or_else(|_| panic!("no button or link {label:?} on this page"));
        target.click().await.unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        let found = self.client.find(Locator::Css(css)).await;
        found.unwrap_or_else(|_| panic!("nothing matches {css} on this page"))
    }

    /// Reloads until the page's text holds `wanted`; the page's text at the end.
    pub async fn reload_until(&self, wanted: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text().await;
            if wanted(&text) || Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.client.refresh().await.unwrap();
        }
    }

    /// Writes a screenshot of the whole page, from its top, as `NN-name.png`.
    pub async fn shot(&mut self, name: &str) {
        self.taken += 1;
        let sizes = "window.scrollTo(0, 0); \
                     return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight];";
        let sizes = self.client.execute(sizes, Vec::new()).await.unwrap();
        let height = sizes[0].as_u64().unwrap_or(0) + sizes[1].as_u64().unwrap_or(0);
        let height = u32::try_from(height).unwrap_or(HEIGHT).clamp(HEIGHT, 4 * HEIGHT);
        self.client.set_window_size(WIDTH, height).await.unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(WIDTH, HEIGHT).await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.taken)), png).unwrap();
    }

    /// What keeps this page from being usable by everyone (see the module's list).
    pub async fn barriers(&self) -> Vec<String> {
        let mut found = self.unlabelled_fields().await;
        found.extend(self.low_contrast().await);
        found.extend(self.keyboard_gaps().await);
        // WebDriver's scripts run outside the page's Content-Security-Policy.
        let widths = "const root = document.documentElement; return [root.scrollWidth, root.clientWidth];";
        let widths = self.client.execute(widths, Vec::new()).await.unwrap();
        if widths[0].as_u64() > widths[1].as_u64() {
            found.push(format!("the page scrolls sideways at {WIDTH}px: {widths}"));
        }
        found
    }

    async fn unlabelled_fields(&self) -> Vec<String> {
        let fields = self.client.find_all(Locator::Css("input:not([type=hidden]), select, textarea")).await;
        let mut found = Vec::new();
        for field in fields.unwrap() {
            let in_label = field.find(Locator::XPath("ancestor::label")).await.is_ok();
            if !in_label && field.attr("aria-label").await.unwrap().is_none() {
                found.push(format!("a field without a label: {}", field.html(false).await.unwrap()));
            }
        }
        found
    }

    /// Text against its background, a few elements of each kind that carries text.
    async fn low_contrast(&self) -> Vec<String> {
        const TEXT: &str = "h1, h2, h3, p, a, button, label, th, td, dt, dd, code, pre, caption, .badge, \
                            .error, .notice, .muted, .who, .product, input, select, textarea";
        let mut found = Vec::new();
        for selector in TEXT.split(", ") {
            let elements = self.client.find_all(Locator::Css(selector)).await.unwrap();
            for element in elements.iter().take(4) {
                if !element.is_displayed().await.unwrap() {
                    continue;
                }
                let color = rgba(&element.css_value("color").await.unwrap());
                let background = background_of(element).await;
                let ratio = contrast(color, background);
                if ratio < 4.5 {
                    let html = element.html(false).await.unwrap();
                    let html: String = html.chars().take(120).collect();
                    found.push(format!("contrast {ratio:.2}:1 below 4.5:1 for {selector}: {html}"));
                }
            }
        }
        found
    }

    /// Tabs through the page: every link, field and button must take the focus, and the
    /// focused one must show a ring.
    /// Presses `key` wherever the focus is, as a keyboard does (sending keys to an
    /// element would move the focus to it first).
    pub async fn press(&self, key: Key) {
        let key = char::from(key);
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(actions).await.unwrap();
    }

    async fn keyboard_gaps(&self) -> Vec<String> {
        const INTERACTIVE: &str =
            "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
        let mut wanted = Vec::new();
        for element in self.client.find_all(Locator::Css(INTERACTIVE)).await.unwrap() {
            wanted.push((element.element_id().to_string(), element.html(false).await.unwrap()));
        }
        let mut found = Vec::new();
        // A date field takes one Tab per part (month, day, year, hours, minutes, AM/PM).
        for _ in 0..wanted.len() * 2 + 20 {
            self.press(Key::Tab).await;
            let focused = self.client.active_element().await.unwrap();
            let id = focused.element_id().to_string();
            wanted.retain(|(one, _)| *one != id);
            let ring = focused.css_value("outline-style").await.unwrap();
            if focused.tag_name().await.unwrap() != "body" && ring == "none" {
                found.push(format!("no focus ring on {}", focused.html(false).await.unwrap()));
            }
            if wanted.is_empty() {
                break;
            }
        }
        for (_, missed) in wanted.iter().take(3) {
            found.push(format!("never takes the focus with Tab: {missed}"));
        }
        found.dedup();
        found
    }
}

async fn connect(port: u16, profile: &tempfile::TempDir, downloads: &Path) -> Client {
    let chromium = std::env::var("AUDIT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| (*flag).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let prefs = serde_json::json!({
        "download.default_directory": downloads,
        "download.prompt_for_download": false,
    });
    let options = serde_json::json!({ "binary": chromium, "args": args, "prefs": prefs });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        match builder.capabilities(capabilities.clone()).connect(&url).await {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("no Chromium session through {url}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The color behind `element`: its own background or the first opaque one of its
/// ancestors; the page's white canvas when none is set.
async fn background_of(element: &Element) -> [f64; 4] {
    let mut current = element.clone();
    loop {
        let background = rgba(&current.css_value("background-color").await.unwrap());
        if background[3] > 0.0 {
            return background;
        }
        match current.find(Locator::XPath("..")).await {
            Ok(parent) => current = parent,
            Err(_) => return [255.0, 255.0, 255.0, 1.0],
        }
    }
}

/// `rgb(r, g, b)` or `rgba(r, g, b, a)` as four numbers.
pub fn rgba(css: &str) -> [f64; 4] {
    let inner = css.trim().trim_start_matches("rgba(").trim_start_matches("rgb(").trim_end_matches(')');
    let mut parts = inner.split(',').map(|part| part.trim().parse::<f64>().unwrap_or(0.0));
    let mut next = |default| parts.next().unwrap_or(default);
    [next(0.0), next(0.0), next(0.0), next(1.0)]
}

/// The WCAG contrast ratio of `color` over `background` (opaque).
pub fn contrast(color: [f64; 4], background: [f64; 4]) -> f64 {
    let alpha = color[3];
    let over = |channel: usize| color[channel] * alpha + background[channel] * (1.0 - alpha);
    let (fore, back) =
        (luminance([over(0), over(1), over(2)]), luminance([background[0], background[1], background[2]]));
    (fore.max(back) + 0.05) / (fore.min(back) + 0.05)
}

fn luminance(rgb: [f64; 3]) -> f64 {
    let linear = |value: f64| {
        let value = value / 255.0;
        if value <= 0.03928 { value / 12.92 } else { ((value + 0.055) / 1.055).powf(2.4) }
    };
    0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
}
