//! The HTML and CSV reports: the demo's HTML rendered by headless Chromium with nothing
//! fetched; hostile captured strings through all four renderers; CSV quoting and formula
//! escaping; determinism.
//!
//! `TELLTALE_UPDATE_SCREENSHOTS=1 cargo test --test html_report` also writes the
//! screenshot to `screenshots/report.png`.

// Test helpers: a failed assumption here is a failed test (clippy allows these in #[test]
// functions, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use telltale::report::{Report, csv, html, json, markdown};
use telltale::rules::verdict::VerdictKind;

const HOSTILE: &str = "<script>alert(1)</script>|\"onmouseover='x'`\u{1b}[31m\u{202e}evil,\"\r\n</td></tr><img src=x>";

fn demo() -> Report {
    common::audit_demo("on")
}

/// RFC 4180, strictly: a quote may only open a field, and records end with CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut opened = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(
                    field.is_empty() && !opened,
                    "a quote inside an unquoted field: {field:?}"
                );
                quoted = true;
                opened = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                opened = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR not followed by LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                opened = false;
            }
            '\n' => panic!("a bare LF ends a record"),
            _ => {
                assert!(!opened, "text after a closing quote");
                field.push(c);
            }
        }
    }
    assert!(!quoted, "a quoted field never closed");
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// The values of every `src=`, `href=` and `url(` in the page.
fn link_targets(page: &str) -> Vec<String> {
    let lower = page.to_ascii_lowercase();
    let mut out = Vec::new();
    for needle in ["src=", "href=", "url("] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(needle) {
            let start = from + at + needle.len();
            let rest = lower[start..].trim_start_matches([' ', '"', '\'']);
            let end = rest
                .find(|c: char| c == '"' || c == '\'' || c == ')' || c == '>' || c.is_whitespace())
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            from = start;
        }
    }
    out
}

fn assert_fetches_nothing(page: &str) {
    for target in link_targets(page) {
        assert!(
            !target.starts_with("http://")
                && !target.starts_with("https://")
                && !target.starts_with("//"),
            "the page links out: {target}"
        );
    }
}

#[test]
fn the_html_names_nothing_to_fetch() {
    let page = html::render(&demo());
    assert_fetches_nothing(&page);
    assert_eq!(page.matches("<script").count(), 1, "one script, ours");
    assert!(page.contains("Content-Security-Policy"));
    // the policy allows no style attribute, so the page uses none
    assert!(!page.contains(" style="));
}

#[test]
fn the_html_holds_every_section_in_order() {
    let r = demo();
    let page = html::render(&r);
    let mut last = 0;
    for marker in [
        "id=\"verdict\"",
        "5 flows flagged of 41",
        "id=\"flagged-by-class\"",
        "id=\"consent\"",
        "id=\"flagged\"",
        "id=\"flow-13\"",
        "id=\"declared\"",
        "id=\"charts\"",
        "id=\"chart-bytes\"",
        "id=\"chart-classes\"",
        "id=\"chart-time\"",
        "id=\"names\"",
        "id=\"blind-spots\"",
        "id=\"scope\"",
        "id=\"counters\"",
        "id=\"reproduce\"",
    ] {
        let at = page[last..]
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} missing or out of order"));
        last += at;
    }
    // every flagged flow has its card, every name its row
    for f in r
        .flows
        .iter()
        .filter(|f| f.verdict.kind == VerdictKind::Flagged)
    {
        assert!(page.contains(&format!("id=\"flow-{}\"", f.id)));
    }
    for n in &r.names {
        assert!(page.contains(&n.name), "{} missing", n.name);
    }
    // how to reproduce: full hashes and the command line
    assert!(page.contains(&r.rules.sha256));
    for i in &r.inputs {
        let sha = i.sha256.as_deref().expect("the demo input is hashed");
        assert_eq!(sha.len(), 64);
        assert!(page.contains(sha));
    }
    assert!(page.contains("telltale audit --rules plex --opt-out on builtin:demo.pcapng"));
}

#[test]
fn nothing_flagged_is_said_in_green() {
    let page = html::render(&demo_without_flags());
    assert!(page.contains("<p class=\"verdict good\" id=\"verdict\">Nothing flagged</p>"));
    assert!(page.contains("No flow left the local network unexplained."));
}

#[test]
fn without_the_opt_out_the_allowed_flows_are_listed() {
    let r = common::audit_demo("off");
    let page = html::render(&r);
    let allowed = r
        .flows
        .iter()
        .filter(|f| f.verdict.kind == VerdictKind::Allowed)
        .count();
    assert!(allowed > 0);
    assert!(page.contains(&format!("<h2>Allowed ({allowed})</h2>")));
    assert!(page.contains("the owner has not opted out of data sharing"));
    assert!(page.contains("telltale audit --rules plex --opt-out off builtin:demo.pcapng"));
    // the bytes chart's legend names every verdict that left
    assert!(page.contains("f-allowed"));
    // allowed flows that no exception explains are classed, as they would be if flagged; the
    // others are counted apart, as explained
    let line = page
        .find("id=\"allowed-by-class\"")
        .map(|at| &page[at..at + 400]);
    assert!(
        line.is_some_and(|l| l.contains(
            "by class: 3 to known collection endpoints, 1 to a third party that no rule explains"
        )),
        "{line:?}"
    );
    assert!(page.contains("are explained by declared exceptions.</p>"));
    assert!(page.contains("<th>rule</th><th>class</th>"));
    assert!(page.contains(
        "<td title=\"a third party that no rule explains\"><code>third_party</code></td>"
    ));
    let md = markdown::render(&r);
    assert!(md.contains(
        "Allowed (the owner has not opted out), by class: 3 to known collection endpoints"
    ));
    assert!(
        md.contains("| # | remote | name (how learned) | protocol | out | in | rule | class |")
    );
}

fn demo_without_flags() -> Report {
    let mut r = demo();
    r.flows.retain(|f| f.verdict.kind != VerdictKind::Flagged);
    r
}

#[test]
fn rendering_is_deterministic() {
    let r = demo();
    assert_eq!(html::render(&r), html::render(&r));
    assert_eq!(csv::render(&r), csv::render(&r));
    // and two audits of the same capture differ only in the generation time
    let mut a = demo();
    let b = demo();
    a.generated_at = b.generated_at;
    assert_eq!(html::render(&a), html::render(&b));
    assert_eq!(csv::render(&a), csv::render(&b));
}

#[test]
fn csv_has_one_row_per_flow_and_defuses_formulas() {
    let mut r = demo();
    let formula = "=cmd|' /C calc'!A0";
    let id = {
        let f = r
            .flows
            .iter_mut()
            .find(|f| !f.names.is_empty())
            .expect("a named flow");
        for n in &mut f.names {
            n.name = formula.into();
        }
        f.verdict.reason = "-1+1, \"quoted\", and @SUM(A1)".into();
        f.id
    };
    let text = csv::render(&r);
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), r.flows.len() + 1);
    let header = &rows[0];
    assert_eq!(header.len(), 28);
    assert!(rows.iter().all(|row| row.len() == header.len()));
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let row = rows
        .iter()
        .find(|row| row[col("id")] == id.to_string())
        .expect("the row");
    assert_eq!(row[col("primary_name")], format!("'{formula}"));
    assert!(row[col("all_names")].starts_with("'=cmd"));
    assert_eq!(row[col("reason")], "'-1+1, \"quoted\", and @SUM(A1)");
    // quoting on the wire
    assert!(text.contains("\"'-1+1, \"\"quoted\"\", and @SUM(A1)\""));
    // the demo's flow 13, cell by cell
    let f13 = rows
        .iter()
        .find(|row| row[col("id")] == "13")
        .expect("flow 13");
    assert_eq!(f13[col("protocol")], "tcp");
    assert_eq!(f13[col("app")], "tls");
    assert_eq!(f13[col("server_address")], "192.0.2.15");
    assert_eq!(f13[col("server_port")], "443");
    assert_eq!(f13[col("primary_name")], "metrics.plex.tv");
    assert_eq!(f13[col("name_source")], "tls_sni");
    assert_eq!(
        f13[col("all_names")],
        "metrics.plex.tv (dns_answer); metrics.plex.tv (tls_sni)"
    );
    assert_eq!(f13[col("verdict")], "flagged");
    assert_eq!(f13[col("rule")], "metrics");
    assert_eq!(f13[col("tcp_history")], "ShADadFf");
    assert_eq!(f13[col("tcp_state")], "SF");
    // `class` was added at the end: the columns before it kept their positions
    assert_eq!(col("new_destination"), 26);
    assert_eq!(col("class"), 27);
    assert_eq!(f13[col("class")], "collection");
    let f40 = rows
        .iter()
        .find(|row| row[col("id")] == "40")
        .expect("flow 40");
    assert_eq!(f40[col("class")], "third_party");
}

fn hostile_report() -> (Report, u64) {
    let mut r = demo();
    let f = r
        .flows
        .iter_mut()
        .find(|f| f.verdict.kind == VerdictKind::Flagged && !f.names.is_empty())
        .expect("a named flagged flow");
    let id = f.id;
    let old = f.names.first().map(|n| n.name.clone()).unwrap_or_default();
    for n in &mut f.names {
        n.name = HOSTILE.into();
    }
    f.verdict.reason = HOSTILE.into();
    f.verdict.category = HOSTILE.into();
    f.process = Some(telltale::attrib::Attribution {
        process: Arc::new(telltale::attrib::ProcessInfo {
            pid: 4242,
            name: HOSTILE.into(),
            exe: Some(HOSTILE.into()),
            cmdline: vec![HOSTILE.into()],
            uid: Some(0),
            container: None,
        }),
        how: telltale::attrib::How::Socket,
    });
    for n in r.names.iter_mut().filter(|n| n.name == old) {
        n.name = HOSTILE.into();
    }
    r.rules.path = HOSTILE.into();
    r.opt_out.source = HOSTILE.into();
    if let Some(i) = r.inputs.first_mut() {
        i.path = HOSTILE.into();
    }
    r.warnings.push(HOSTILE.into());
    r.settings = Some(telltale::settings::Settings {
        path: HOSTILE.into(),
        format: "Preferences.xml".into(),
        values: [("PubSubServer".to_string(), HOSTILE.to_string())]
            .into_iter()
            .collect(),
        signed_in: true,
    });
    (r, id)
}

fn assert_no_raw_controls(what: &str, text: &str) {
    assert!(!text.contains('\u{1b}'), "{what} holds a raw ESC");
    assert!(!text.contains('\u{202e}'), "{what} holds a raw U+202E");
}

#[test]
fn hostile_names_neither_break_nor_inject() {
    let (r, id) = hostile_report();

    let page = html::render(&r);
    assert!(!page.contains("<script>alert"));
    assert_eq!(page.matches("<script").count(), 1, "one script, ours");
    assert!(!page.contains("<img"));
    assert!(!page.contains("\"onmouseover"));
    assert!(!page.contains("'x'"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_no_raw_controls("HTML", &page);
    assert_fetches_nothing(&page);
    // and as a browser reads it: no element injected, nothing run, nothing fetched
    if let Some(chromium) = chromium() {
        let run = render_in_chromium(chromium, &page, true);
        assert_eq!(run.dom.matches("<script").count(), 1, "one script, ours");
        assert!(!run.dom.contains("<img"));
        // (the text shows `"onmouseover='x'`; an attribute would read ` onmouseover="`)
        assert!(!run.dom.contains(" onmouseover=\""));
        assert!(run.console.is_empty(), "console: {}", run.console);
        assert!(run.requests.is_empty(), "{:?}", run.requests);
    }

    // (paths land in Markdown code spans, where a tag is only text; names and reasons are escaped)
    let md = markdown::render(&r);
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_no_raw_controls("Markdown", &md);

    let text = csv::render(&r);
    assert_no_raw_controls("CSV", &text);
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), r.flows.len() + 1, "one row per flow");
    assert!(rows.iter().all(|row| row.len() == 28));

    let js = json::render(&r);
    assert!(!js.contains('\u{1b}'), "JSON holds a raw ESC");
    let v: serde_json::Value = serde_json::from_str(&js).expect("the JSON still parses");
    let flow = v["flows"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["id"] == id))
        .expect("the flow");
    assert_eq!(flow["names"][0]["name"], HOSTILE, "the name round-trips");
    assert_eq!(flow["verdict"]["reason"], HOSTILE);
}

#[test]
fn json_holds_no_raw_bidi_override() {
    let (r, _) = hostile_report();
    assert_no_raw_controls("JSON", &json::render(&r));
}

/// Runs `cmd`, killing it after `limit`.
fn run_with_limit(mut cmd: Command, limit: Duration) -> std::process::ExitStatus {
    let mut child = cmd.spawn().expect("start chromium");
    let began = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            return status;
        }
        if began.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn chromium() -> Option<&'static Path> {
    let chromium = Path::new("/usr/bin/chromium");
    common::require(
        chromium.exists(),
        "chromium",
        "apt-get install chromium, as /usr/bin/chromium (make test installs it)",
    )
    .then_some(chromium)
}

/// What headless Chromium made of a page: its screenshot (or its DOM after the
/// scripts ran), its console, and the URLs on the network the page asked for.
struct Rendered {
    _dir: tempfile::TempDir,
    png: PathBuf,
    dom: String,
    console: String,
    requests: Vec<String>,
}

/// Renders `page` with headless Chromium, recording a net log. Host resolution is
/// mapped to nothing, so no request, the page's or the browser's, leaves the machine;
/// every request is still logged. `dump_dom` prints the DOM instead of a screenshot.
fn render_in_chromium(chromium: &Path, page: &str, dump_dom: bool) -> Rendered {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("report.html");
    std::fs::write(&html, page).expect("write the page");
    let png = dir.path().join("report.png");
    let net = dir.path().join("net.json");
    let profile = dir.path().join("profile");
    let out = dir.path().join("stdout.txt");
    let err = dir.path().join("stderr.txt");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1200,2400",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--log-net-log={}", net.display()))
    .arg(if dump_dom {
        "--dump-dom".to_string()
    } else {
        format!("--screenshot={}", png.display())
    })
    .arg(format!("file://{}", html.display()))
    .env("HOME", dir.path())
    .stdin(Stdio::null())
    .stdout(std::fs::File::create(&out).expect("stdout file"))
    .stderr(std::fs::File::create(&err).expect("stderr file"));
    let status = run_with_limit(cmd, Duration::from_secs(120));
    assert!(status.success(), "chromium failed: {status}");
    let requests = page_requests(&read_net_log(&net));
    let console = std::fs::read_to_string(&err)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .collect::<Vec<_>>()
        .join("\n");
    Rendered {
        dom: std::fs::read_to_string(&out).unwrap_or_default(),
        _dir: dir,
        png,
        console,
        requests,
    }
}

fn read_net_log(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the net log");
    serde_json::from_str(&text)
        .or_else(|_| {
            // a log cut off at exit lacks its closing brackets
            let t = text.trim_end().trim_end_matches(',');
            serde_json::from_str(&format!("{t}]}}"))
        })
        .expect("the net log is JSON")
}

fn is_network_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    ["http:", "https:", "ws:", "wss:"]
        .iter()
        .any(|p| l.starts_with(p))
}

/// `https://a.example:8443/x` → `a.example:8443`.
fn url_host(s: &str) -> String {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    rest.split(['/', '?', '#', ' '])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The network URLs in the net log that the page caused.
///
/// Chromium itself talks to Google whatever the page (the network time, the component
/// updater, the account list: <https://github.com/chromiumembedded/cef/issues/4276>
/// says the last cannot be turned off). Its own requests carry no initiator
/// (`"initiator": "not an origin"`); anything a page asks for carries the page's origin,
/// and the page's lookups carry its `file://` network key. So these count:
/// - every request with an initiator;
/// - every event with a network URL that is keyed to the `file://` page;
/// - every other network URL string whose host none of the browser's own requests
///   named (`~notfound` is where `--host-resolver-rules` sends every lookup).
fn page_requests(log: &serde_json::Value) -> Vec<String> {
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_i64();
    let events = log["events"].as_array().cloned().unwrap_or_default();
    let mut own_hosts = std::collections::BTreeSet::from(["~notfound".to_string()]);
    let mut out = Vec::new();
    for e in &events {
        let mut all = Vec::new();
        strings(e, &mut all);
        let urls: Vec<&str> = all.iter().copied().filter(|s| is_network_url(s)).collect();
        if urls.is_empty() {
            continue;
        }
        let params = &e["params"];
        let own = start_job.is_some()
            && e["type"].as_i64() == start_job
            && params["initiator"].as_str() == Some("not an origin");
        let by_page = (start_job.is_some()
            && e["type"].as_i64() == start_job
            && params["initiator"].as_str() != Some("not an origin"))
            || ["network_anonymization_key", "network_isolation_key"]
                .iter()
                .any(|k| params[*k].as_str().is_some_and(|v| v.contains("file://")));
        if own {
            own_hosts.extend(urls.iter().map(|u| url_host(u)));
        } else if by_page {
            out.extend(urls.iter().map(|u| u.to_string()));
        }
    }
    let mut all = Vec::new();
    for e in &events {
        strings(e, &mut all);
    }
    for s in all {
        if is_network_url(s) && !own_hosts.contains(&url_host(s)) {
            out.push(s.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn chromium_renders_the_demo_report_without_fetching_anything() {
    let Some(chromium) = chromium() else {
        return;
    };
    let page = html::render(&demo());
    let shot = render_in_chromium(chromium, &page, false);
    let size = std::fs::metadata(&shot.png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20 * 1024, "the screenshot is {size} bytes");
    assert!(
        shot.requests.is_empty(),
        "the page made requests: {:?}",
        shot.requests
    );
    // the page's own style and script pass its Content-Security-Policy, and nothing fails
    assert!(shot.console.is_empty(), "console: {}", shot.console);
    if std::env::var("TELLTALE_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let dest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("screenshots/report.png");
        std::fs::copy(&shot.png, &dest).expect("copy the screenshot");
        eprintln!("wrote {}", dest.display());
    }

    // the sorting script ran: it marks the page and makes headers focusable
    let run = render_in_chromium(chromium, &page, true);
    assert!(run.console.is_empty(), "console: {}", run.console);
    assert!(run.requests.is_empty(), "{:?}", run.requests);
    assert!(
        run.dom.contains("<html lang=\"en\" class=\"js\">"),
        "the script did not run"
    );
    assert!(run.dom.contains("tabindex=\"0\""));
}

/// The net-log check finds what a page fetches (so its silence above means something).
#[test]
fn the_net_log_check_catches_a_page_that_fetches() {
    let Some(chromium) = chromium() else {
        return;
    };
    let page = "<!DOCTYPE html><html><head><style>body{background:url(https://css.canary.invalid/bg.png)}</style>\
        <script src=\"http://script.canary.invalid/x.js\"></script></head><body>\
        <img src=\"http://img.canary.invalid/x.png\" alt=\"\"><p>canary</p>\
        <script>try{new WebSocket('ws://ws.canary.invalid/')}catch(e){}</script></body></html>";
    let shot = render_in_chromium(chromium, page, false);
    for host in [
        "css.canary.invalid",
        "script.canary.invalid",
        "img.canary.invalid",
        "ws.canary.invalid",
    ] {
        assert!(
            shot.requests.iter().any(|u| url_host(u) == host),
            "{host} not caught: {:?}",
            shot.requests
        );
    }
}
