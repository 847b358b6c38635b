//! `cargo xtask browser-check`: a run's HTML report rendered in a real headless Chromium.
//!
//! `ebm train --out DIR` writes `DIR/report.html`: self-contained (every picture an `<img>`
//! whose `src` is a `data:image/svg+xml;base64,` or `data:image/png;base64,` URI, no external
//! script, style or request), a `<meta http-equiv="refresh">` while the run is in progress and
//! none once it has finished. The check:
//!
//! 1. finds Chromium on PATH (`chromium`, `chromium-browser`, `google-chrome`; Debian's
//!    package `chromium`, which `.ci/run` installs) and fails without it;
//! 2. runs a short `ebm train` (the default preset) into `results/browser-check/run/`; its
//!    finished `report.html` must exist and have no meta refresh;
//! 3. writes `report.check.html` beside it: the report with a script injected at the very
//!    start of `<head>` (recording `console.error` calls, uncaught exceptions and unhandled
//!    promise rejections) and one at the end of `<body>` (on `load`, when every image has
//!    loaded or failed: the images, those not `complete` with a `naturalWidth`, any resource
//!    that is not a `data:` URI, the headings and tables), which writes its result as
//!    percent-encoded JSON into a `<pre id="ebm-browser-check">`. Chromium loads it with
//!    `--dump-dom --virtual-time-budget=10000`; the result is parsed from the dumped DOM. It
//!    must show at least one image, every image loaded, no console error, no uncaught
//!    exception, nothing external, a heading and two tables. Chromium's own console log
//!    (`--enable-logging=stderr --v=0`, lines `INFO:CONSOLE`) is a second witness: it does not
//!    tell `console.error` from `console.log`, so only its `Uncaught` lines count: those
//!    beyond the exceptions the script saw (thrown after `load`, from a timer say) fail the
//!    check too; the `INFO:CONSOLE` lines are shown when the check fails;
//! 4. screenshots the original report (`--screenshot --window-size=1280,2400
//!    --hide-scrollbars`) into `results/browser-check/report.png` (kept: CI's artefact) and
//!    requires at least 2% of its pixels not near-white (some channel below 240) and at least
//!    8 distinct colours.
//!
//! Every Chromium runs headless with a fresh profile in a temporary directory, `--no-sandbox`
//! (CI runs as root) and no network: background networking, component updates, sync and
//! extensions off, every host name resolving to nothing and every request sent to a
//! proxy on the discard port. Each runs in its own process group, killed after 60 s; the
//! group, and any process still naming the profile directory, is killed when it ends, so no
//! Chromium child outlives the check.
//!
//! `cargo xtask browser-check --report FILE` checks FILE instead of a fresh run's report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::util::{ebm, root, run};

/// Longest a single Chromium process may run.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The screenshot's size, in CSS pixels.
const WINDOW: (u32, u32) = (1280, 2400);
/// Least fraction of the screenshot's pixels that are not near-white.
const MIN_INK: f64 = 0.02;
/// Least number of distinct colours in the screenshot.
const MIN_COLOURS: usize = 8;
/// The id of the element the injected script writes its result into.
const RESULT_ID: &str = "ebm-browser-check";

/// `cargo xtask browser-check [--report FILE]`.
pub fn run_cli(args: &[String]) -> Result<()> {
    match args {
        [] => run_browser_check(),
        [flag, file] if flag == "--report" => {
            let start = Instant::now();
            let chromium = find_chromium()?;
            check_report(&chromium, Path::new(file), start)
        }
        _ => bail!("usage: cargo xtask browser-check [--report FILE]"),
    }
}

/// `cargo xtask browser-check`: a short training, then its report in headless Chromium.
pub fn run_browser_check() -> Result<()> {
    let start = Instant::now();
    let chromium = find_chromium()?;
    let dir = root().join("results/browser-check/run");
    let mut cmd = ebm()?;
    let mut args: Vec<String> = ["train", "--force", "-q", "--out"].map(str::to_owned).to_vec();
    args.push(dir.display().to_string());
    cmd.args(&args).stdout(Stdio::null());
    let trained = Instant::now();
    run(cmd, "ebm train (default preset)")?;
    eprintln!("xtask: browser-check: trained in {:.1} s", trained.elapsed().as_secs_f64());
    check_report(&chromium, &dir.join("report.html"), start)
}

/// What the injected script found in the rendered page.
#[derive(Debug, Deserialize)]
struct PageCheck {
    /// `<img>` elements.
    images: usize,
    /// Those complete with a natural width.
    loaded: usize,
    /// The others, described.
    broken: Vec<String>,
    /// `console.error` calls, uncaught exceptions, unhandled rejections.
    errors: Vec<String>,
    /// Anything not inlined as a `data:` URI.
    external: Vec<String>,
    /// `<h1>`-`<h3>` elements.
    headings: usize,
    /// `<table>` elements.
    tables: usize,
}

/// Check a finished report: rendered without errors, then a screenshot that is not blank.
fn check_report(chromium: &Path, report: &Path, start: Instant) -> Result<()> {
    let rendering = Instant::now();
    let html = std::fs::read_to_string(report)
        .with_context(|| format!("cannot read the report {}", report.display()))?;
    if has_meta_refresh(&html) {
        bail!(
            "{} has a <meta http-equiv=\"refresh\">: a finished run's report must have none",
            report.display()
        );
    }
    let report = std::path::absolute(report)?;
    let checked = report.with_file_name("report.check.html");
    trainer::io::write_atomic(&checked, instrument(&html)?.as_bytes())?;

    let (dom, log) = chromium_run(
        chromium,
        &["--dump-dom".into(), "--virtual-time-budget=10000".into(), file_url(&checked)],
        "Chromium --dump-dom",
    )?;
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    let page = parse_result(&dom).with_context(|| console_context(&console))?;
    let mut problems = Vec::new();
    if page.images == 0 {
        problems.push("no <img> in the report".to_owned());
    }
    for b in &page.broken {
        problems.push(format!("image not loaded: {b}"));
    }
    for e in &page.errors {
        problems.push(e.clone());
    }
    // Chromium's log also has what was thrown after the check ran (from a timer, say).
    let uncaught: Vec<&&str> = console.iter().filter(|l| l.contains("\"Uncaught")).collect();
    let seen = page.errors.iter().filter(|e| !e.starts_with("console.error")).count();
    for l in uncaught.iter().skip(seen) {
        problems.push(format!("uncaught, in Chromium's log: {l}"));
    }
    for x in &page.external {
        problems.push(format!("not self-contained: {x}"));
    }
    if page.headings == 0 {
        problems.push("no heading (<h1>-<h3>)".to_owned());
    }
    if page.tables < 2 {
        problems
            .push(format!("{} table(s), want a summary table and per-epoch tables", page.tables));
    }
    if !problems.is_empty() {
        bail!(
            "{} in headless Chromium ({}):\n  {}\n{}",
            report.display(),
            checked.display(),
            problems.join("\n  "),
            console_context(&console)
        );
    }

    let png = root().join("results/browser-check/report.png");
    std::fs::create_dir_all(png.parent().expect("a parent"))?;
    if let Err(e) = std::fs::remove_file(&png)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(e).with_context(|| format!("cannot remove {}", png.display()));
    }
    let (_, log) = chromium_run(
        chromium,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            "--hide-scrollbars".into(),
            "--virtual-time-budget=10000".into(),
            file_url(&report),
        ],
        "Chromium --screenshot",
    )?;
    let shot = screenshot_stats(&png)
        .with_context(|| format!("Chromium's stderr ends:\n{}", tail(&log)))?;
    if shot.ink < MIN_INK || shot.colours < MIN_COLOURS {
        bail!(
            "the screenshot {} looks blank: {:.2}% of its pixels not near-white (want {}%), {} \
             distinct colours (want {MIN_COLOURS})",
            png.display(),
            100.0 * shot.ink,
            100.0 * MIN_INK,
            shot.colours
        );
    }
    eprintln!(
        "xtask: browser-check passed: {}/{} images loaded, 0 console errors, screenshot {}x{} \
         ({:.1}% not white, {} colours) in {}; Chromium {:.1} s, all {:.1} s",
        page.loaded,
        page.images,
        shot.width,
        shot.height,
        100.0 * shot.ink,
        shot.colours,
        png.display(),
        rendering.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The first of `chromium`, `chromium-browser`, `google-chrome` that is an executable on PATH.
fn find_chromium() -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "browser-check needs Chromium on PATH (chromium, chromium-browser or google-chrome): \
         the Debian package chromium, which .ci/run installs"
    )
}

/// Run Chromium headless, offline and with a fresh profile on `args`, killed after
/// [`TIMEOUT`]; returns its stdout and stderr. Every process it started is ended.
fn chromium_run(chromium: &Path, args: &[String], what: &str) -> Result<(String, String)> {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::Builder::new().prefix("ebm-browser-check-").tempdir()?;
    let profile = tmp.path().join("profile");
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .current_dir(tmp.path())
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&out_path)?)
    .stderr(std::fs::File::create(&err_path)?)
    .process_group(0);
    eprintln!("xtask: {what}: {cmd:?}");
    let mut child = cmd.spawn().with_context(|| format!("cannot start {what}"))?;
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    end_processes(child.id(), &profile);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let read = |p: &Path| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
    let (stdout, stderr) = (read(&out_path)?, read(&err_path)?);
    match status {
        None => bail!(
            "{what} did not finish within {} s (killed); its stderr ends:\n{}",
            TIMEOUT.as_secs(),
            tail(&stderr)
        ),
        Some(s) if !s.success() => {
            bail!("{what} failed ({s}); its stderr ends:\n{}", tail(&stderr))
        }
        Some(_) => Ok((stdout, stderr)),
    }
}

/// Kill Chromium's process group (led by `pid`) and any process left whose command line
/// names the `profile` directory (a child that left the group).
fn end_processes(pid: u32, profile: &Path) {
    let kill = |target: &str| {
        // The shell's builtin: no procps needed.
        let _ = Command::new("sh")
            .args(["-c", "kill -KILL -- \"$1\"", "sh", target])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    kill(&format!("-{pid}"));
    let needle = profile.display().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(other) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            kill(other);
        }
    }
}

/// Whether the HTML has a `<meta http-equiv="refresh">` (any quoting, any case).
fn has_meta_refresh(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    lower.match_indices("http-equiv").any(|(i, m)| {
        lower[i + m.len()..]
            .trim_start_matches(|c: char| {
                c.is_ascii_whitespace() || c == '=' || c == '"' || c == '\''
            })
            .starts_with("refresh")
    })
}

/// The report with the check's scripts injected at the start of `<head>` and the end of
/// `<body>`.
fn instrument(html: &str) -> Result<String> {
    let lower = html.to_ascii_lowercase();
    let head = lower
        .match_indices("<head")
        .find(|(i, m)| {
            lower[i + m.len()..].starts_with(|c: char| c == '>' || c.is_ascii_whitespace())
        })
        .and_then(|(i, _)| lower[i..].find('>').map(|j| i + j + 1))
        .context("the report has no <head>")?;
    let body_end = lower.rfind("</body").context("the report has no </body>")?;
    if body_end < head {
        bail!("the report's </body> comes before its <head>");
    }
    Ok(format!(
        "{}{HEAD_SCRIPT}{}{}{}",
        &html[..head],
        &html[head..body_end],
        BODY_SCRIPT.replace("RESULT_ID", RESULT_ID),
        &html[body_end..]
    ))
}

/// Injected first in `<head>`: records errors before any of the report's own scripts runs.
/// (The charset comes first so that the report's own `<meta charset>` is not pushed out of
/// the first 1024 bytes.)
const HEAD_SCRIPT: &str = r#"<meta charset="utf-8"><script>(function () {
  var errors = [];
  window.__ebmCheckErrors = errors;
  var original = console.error;
  console.error = function () {
    errors.push('console.error: ' + Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
  window.addEventListener('error', function (e) {
    errors.push('uncaught exception: ' + e.message + ' (line ' + e.lineno + ')');
  });
  window.addEventListener('unhandledrejection', function (e) {
    errors.push('unhandled promise rejection: ' + String(e.reason));
  });
})();</script>"#;

/// Injected last in `<body>`: on `load` (every image has then loaded or failed), write the
/// findings as percent-encoded JSON into `<pre id=RESULT_ID>`. Synchronously: under a
/// virtual-time budget Chromium fast-forwards an idle page to the budget's end and dumps the
/// DOM, so a result written from a timer or a promise (`img.decode()`) is often missing.
const BODY_SCRIPT: &str = r#"<script>window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var r = { images: images.length, loaded: 0, broken: [], errors: window.__ebmCheckErrors,
            external: [], headings: document.querySelectorAll('h1, h2, h3').length,
            tables: document.querySelectorAll('table').length };
  images.forEach(function (i, k) {
    var src = i.getAttribute('src') || '';
    var name = '#' + (k + 1) + ' (alt "' + (i.getAttribute('alt') || '') + '", src '
      + src.slice(0, 60) + (src.length > 60 ? '...' : '') + ')';
    if (i.complete && i.naturalWidth > 0) { r.loaded++; } else { r.broken.push(name); }
    if (!/^data:image\/(svg\+xml|png);base64,/.test(src)) {
      r.external.push('<img> ' + name + ' is not a base64 SVG or PNG data: URI');
    }
  });
  document.querySelectorAll('script[src], link[href], iframe, object, embed, video, audio, source')
    .forEach(function (e) {
      var at = e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('data') || '';
      if (!/^data:/.test(at)) { r.external.push('<' + e.tagName.toLowerCase() + '> ' + at.slice(0, 80)); }
    });
  performance.getEntriesByType('resource').forEach(function (e) {
    if (!/^data:/.test(e.name)) { r.external.push('fetched ' + e.name.slice(0, 80)); }
  });
  var pre = document.createElement('pre');
  pre.id = 'RESULT_ID';
  pre.textContent = encodeURIComponent(JSON.stringify(r));
  document.body.appendChild(pre);
});</script>"#;

/// The injected script's result, from Chromium's dumped DOM.
fn parse_result(dom: &str) -> Result<PageCheck> {
    let open = format!("<pre id=\"{RESULT_ID}\">");
    let start = dom.find(&open).map(|i| i + open.len()).with_context(|| {
        format!(
            "the dumped DOM ({} bytes) has no <pre id=\"{RESULT_ID}\">: the page's load event \
             did not fire within the virtual-time budget, or the check script failed",
            dom.len()
        )
    })?;
    let end = dom[start..].find("</pre>").context("the check's <pre> is not closed")? + start;
    let json = percent_decode(&dom[start..end])?;
    serde_json::from_str(&json).with_context(|| format!("the check's result is not valid: {json}"))
}

/// The last 20 lines of a log.
fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Chromium's console lines, for an error message.
fn console_context(console: &[&str]) -> String {
    if console.is_empty() {
        "Chromium logged no console message".to_owned()
    } else {
        format!("Chromium's console log:\n{}", console.join("\n"))
    }
}

/// Decode `encodeURIComponent`'s output.
fn percent_decode(s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).context("truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).with_context(|| format!("bad %-escape %{hex}"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("the check's result is not UTF-8")
}

/// A `file://` URL for an absolute path, percent-encoding all but unreserved bytes and `/`.
fn file_url(path: &Path) -> String {
    let mut url = "file://".to_owned();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

/// What the screenshot shows.
struct Screenshot {
    width: u32,
    height: u32,
    /// Fraction of pixels with some channel below 240.
    ink: f64,
    /// Distinct RGB colours.
    colours: usize,
}

/// Decode the screenshot and measure it.
fn screenshot_stats(png: &Path) -> Result<Screenshot> {
    let bytes =
        std::fs::read(png).with_context(|| format!("Chromium wrote no {}", png.display()))?;
    let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .with_context(|| format!("{} is not a valid PNG", png.display()))?
        .to_rgb8();
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 {
        bail!("{} is empty ({width}x{height})", png.display());
    }
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0_u64;
    for p in img.pixels() {
        let [r, g, b] = p.0;
        if r.min(g).min(b) < 240 {
            inked += 1;
        }
        colours.insert(u32::from_be_bytes([0, r, g, b]));
    }
    Ok(Screenshot {
        width,
        height,
        ink: inked as f64 / (f64::from(width) * f64::from(height)),
        colours: colours.len(),
    })
}
