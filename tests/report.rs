//! The HTML report of a real run, opened in headless Chromium (installed by `.ci/run`), and
//! `harness report` re-rendering a saved result.

use std::path::Path;
use std::process::Command;

use std::time::Duration;

use crate::support::{free_port, harness, run_json, Behaviour, TestServer, APPS};

/// Runs a short leak check with the report written into `dir`.
fn run_with_report(dir: &Path) {
    run_app_with_report(dir, "cache-leak.js");
}

/// Runs `app` briefly with the report written into `dir`.
fn run_app_with_report(dir: &Path, app: &str) {
    let url = format!("http://127.0.0.1:{}/", free_port());
    let output = harness()
        .args([
            "-n",
            "-c",
            "10",
            "-d",
            "2",
            "--baseline",
            "500ms",
            "--cooldown",
            "1s",
            "--report",
        ])
        .arg(dir)
        .args([url.as_str(), "--", "node", &format!("{APPS}/{app}")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Report: "),
        "the report path is printed: {stdout}"
    );
}

/// Chromium's headless flags for this machine (no network, no background services).
fn chromium() -> Command {
    let mut command = Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command
}

/// The report in `dir` as headless Chromium renders it (its DOM), after checking that the
/// browser's console stayed quiet (no errors, nothing refused by the CSP).
fn rendered(dir: &Path) -> String {
    rendered_page(&dir.join("report.html"))
}

/// The page at `report` as headless Chromium renders it, console checked as in [`rendered`].
fn rendered_page(report: &Path) -> String {
    if Command::new("chromium").arg("--version").output().is_err() {
        panic!("this test needs Chromium: apt-get install chromium (.ci/run installs it)");
    }
    let profile = tempfile::tempdir().unwrap();
    let output = chromium()
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", report.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Refused to"),
            "browser console: {line}"
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_report_opens_in_a_browser_with_the_verdict_every_chart_and_no_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    run_with_report(dir.path());
    let dom = rendered(dir.path());
    assert!(
        dom.contains("id=\"verdict\""),
        "no verdict in the rendered page"
    );
    assert!(dom.contains("Memory leak"), "the leak is not the verdict");
    let heap = dom
        .find("<section id=\"heap\">")
        .map(|at| &dom[at..])
        .expect("no 'Where the memory goes' section");
    assert!(
        heap.contains("computeTerm") && heap.contains("system / JSArrayBufferData"),
        "the heap section does not name the leak"
    );
    for chart in [
        "latency",
        "requests",
        "cpu",
        "memory",
        "event-loop-delay",
        "event-loop-utilisation",
        "handles",
    ] {
        let figure = format!("<figure id=\"{chart}\"");
        let at = dom
            .find(&figure)
            .unwrap_or_else(|| panic!("chart {chart} missing"));
        let svg = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(svg.contains("<svg"), "chart {chart} has no SVG");
        // Values on hover, without JavaScript: a <title> per second; phases labelled.
        assert!(
            svg.contains("<title>") && svg.contains(" s (load): "),
            "chart {chart} has no hover values"
        );
        assert!(
            svg.contains(">\nload\n</text>") && svg.contains(">\ncooldown\n</text>"),
            "chart {chart} has no phase labels"
        );
    }
    let latency = &dom[dom.find("<figure id=\"latency\"").unwrap()..];
    assert!(
        latency.contains(" ms, p90 ") && latency.contains(" ms, max "),
        "the latency chart's hover gives each percentile"
    );
}

/// `1234.5` as harness prints counts: rounded, with thousands separators.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The report in `dir` laid out by Chromium in a 1366×768 window, light or dark: the bottom
/// of the summary block in pixels and the page's background colour. Measured in a copy of
/// the report with a small script added (the report itself has none, and its CSP allows
/// none).
fn first_screen(dir: &Path, dark: bool) -> (f64, String) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let csp = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let csp_end = csp + html[csp..].find('>').unwrap() + 1;
    let script = "<script>const s = document.getElementById('summary').getBoundingClientRect(); \
                  document.body.dataset.bottom = s.bottom; \
                  document.body.dataset.bg = getComputedStyle(document.body).backgroundColor;</script>";
    let measured = format!("{}{}", &html[..csp], &html[csp_end..])
        .replace("</body>", &format!("{script}</body>"));
    let copy = dir.join("measured.html");
    std::fs::write(&copy, measured).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut command = chromium();
    if dark {
        command.arg("--force-dark-mode");
    }
    let output = command
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--window-size=1366,768", "--dump-dom"])
        .arg(format!("file://{}", copy.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let attribute = |name: &str| {
        let at = dom
            .find(&format!("data-{name}=\""))
            .unwrap_or_else(|| panic!("the script did not run: {dom}"));
        let rest = &dom[at + name.len() + 7..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    (attribute("bottom").parse().unwrap(), attribute("bg"))
}

/// The first screen answers a reviewer: the summary (verdict, the code to look at, the
/// numbers, the thresholds) comes before the first chart, agrees with the JSON result, and
/// fits a laptop's screen in light and dark.
#[test]
fn the_first_screen_has_the_summary_with_the_jsons_numbers_in_light_and_dark() {
    let dir = tempfile::tempdir().unwrap();
    run_app_with_report(dir.path(), "cache-leak.js");
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).unwrap()).unwrap();
    let dom = rendered(dir.path());
    let start = dom.find("id=\"summary\"").expect("no summary");
    let first_chart = dom.find("<figure").expect("no chart");
    assert!(start < first_chart, "the summary comes after a chart");
    let summary = &dom[start..first_chart];
    let rps = thousands(result["requests"]["mean"].as_f64().unwrap());
    let p99 = result["latency"]["p99"].as_f64().unwrap();
    let p99 = format!(
        "{} ms",
        format!("{p99:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
    );
    assert!(
        summary.contains(&format!("<dd>{rps}</dd>")),
        "no {rps} requests/s in {summary}"
    );
    assert!(
        summary.contains(&format!("<dd>{p99}</dd>")),
        "no p99 {p99} in {summary}"
    );
    assert!(
        summary.contains("Memory leak") && summary.contains("computeTerm"),
        "{summary}"
    );
    assert!(
        summary.contains("href=\"#heap\""),
        "the named code links to its section"
    );
    let (light_bottom, light) = first_screen(dir.path(), false);
    let (dark_bottom, dark) = first_screen(dir.path(), true);
    assert!(
        light_bottom <= 768.0,
        "the summary ends at {light_bottom} px in light"
    );
    assert!(
        dark_bottom <= 768.0,
        "the summary ends at {dark_bottom} px in dark"
    );
    assert_eq!(light, "rgb(255, 255, 255)");
    assert_eq!(dark, "rgb(23, 24, 27)");
}

/// With several kinds of request, the first screen has a row per kind (its numbers as in
/// the JSON result) and still fits a laptop's screen; each kind has its latency chart.
#[test]
fn the_first_screen_has_a_row_per_kind_and_each_kind_a_chart() {
    let dir = tempfile::tempdir().unwrap();
    let output = harness()
        .args([
            "run",
            concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/shop.toml"),
        ])
        .args(["-n", "-d", "2", "--no-profile", "--report"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).unwrap()).unwrap();
    let dom = rendered(dir.path());
    let start = dom.find("id=\"summary\"").expect("no summary");
    let end = start + dom[start..].find("</section>").unwrap();
    let summary = &dom[start..end];
    for (i, name) in ["health", "search", "login"].iter().enumerate() {
        let kind = &result["kinds"][i];
        assert_eq!(kind["name"], *name);
        let row = format!(
            "<tr><td>{name}</td><td class=\"num\">{}</td>",
            thousands(kind["requests"]["total"].as_f64().unwrap())
        );
        assert!(summary.contains(&row), "no {row} in {summary}");
        assert!(
            dom.contains(&format!("<figure id=\"latency-kind-{}\"", i + 1)),
            "no latency chart for {name}"
        );
    }
    let (bottom, _) = first_screen(dir.path(), false);
    assert!(bottom <= 768.0, "the summary ends at {bottom} px");
}

/// A capacity search's report: its answer on the first screen, and a section with the
/// latency and served-rate charts (inline SVG, no script) and a row per step.
#[test]
fn a_capacity_search_report_has_its_answer_first_and_its_steps_charted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/", free_port());
    let output = harness()
        .args(["-n", "-c", "10", "--find-max", "p99<50ms", "--start", "200"])
        .args([
            "--step-duration",
            "1s",
            "--max-duration",
            "7s",
            "--no-heap",
            "--report",
        ])
        .arg(dir.path())
        .args([url.as_str(), "--", "node", &format!("{APPS}/hello.js")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("result.json")).unwrap()).unwrap();
    let capacity = &result["capacity"];
    let steps = capacity["steps"].as_array().unwrap().len();
    assert!(steps >= 2, "{capacity}");
    let dom = rendered(dir.path());
    let start = dom.find("id=\"summary\"").expect("no summary");
    let end = start + dom[start..].find("</section>").unwrap();
    let answer = format!(
        "Capacity: at least {} req/s with p99&lt;50ms",
        capacity["maxRate"].as_f64().unwrap()
    );
    assert!(
        dom[start..end].contains(&answer),
        "no {answer} in {}",
        &dom[start..end]
    );
    let section = &dom[dom
        .find("<section id=\"capacity\">")
        .expect("no capacity section")..];
    let section = &section[..section.find("</section>").unwrap()];
    for chart in ["capacity-latency", "capacity-rate"] {
        assert!(
            section.contains(&format!("<figure id=\"{chart}\"><svg")),
            "no {chart}"
        );
    }
    assert_eq!(
        section.matches("<circle").count(),
        3 * steps,
        "p50, p99 and served per step"
    );
    assert_eq!(
        section.matches("<tr class=\"pass\">").count()
            + section.matches("<tr class=\"fail\">").count(),
        steps
    );
}

/// For a pull request, reviewers want both runs on one page: `harness compare --html`
/// writes the table with its significance labels, the findings that appeared, and every
/// chart with both runs overlaid.
#[test]
fn compare_writes_one_page_with_both_runs_overlaid() {
    let dir = tempfile::tempdir().unwrap();
    let base_dir = dir.path().join("base");
    let new_dir = dir.path().join("new");
    run_app_with_report(&base_dir, "cache-fixed.js");
    run_app_with_report(&new_dir, "cache-leak.js");
    let page = dir.path().join("compare.html");
    let output = harness()
        .arg("compare")
        .arg(base_dir.join("result.json"))
        .arg(new_dir.join("result.json"))
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "a new leak is worse: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let dom = rendered_page(&page);
    let summary = &dom[dom.find("id=\"summary\"").expect("no summary")..];
    assert!(summary.contains("NEW is worse than BASE"), "{summary}");
    assert!(dom.contains("id=\"comparison\"") && dom.contains("Requests/s"));
    assert!(
        dom.contains("New problem: Memory leak"),
        "the leak is not listed as new"
    );
    for chart in ["latency", "requests", "memory"] {
        let at = dom
            .find(&format!("<figure id=\"{chart}\""))
            .unwrap_or_else(|| panic!("chart {chart} missing"));
        let svg = &dom[at..at + dom[at..].find("</figure>").unwrap()];
        assert!(
            svg.contains("(BASE)") && svg.contains("(NEW)"),
            "chart {chart} does not overlay both runs"
        );
    }
    let table = summary.find("id=\"comparison\"").unwrap();
    assert!(
        table < summary.find("<figure").expect("no chart after the summary"),
        "the table comes first"
    );
}

#[test]
fn a_blocked_loop_report_shows_the_hot_code_and_a_flame_graph_readable_without_javascript() {
    let dir = tempfile::tempdir().unwrap();
    run_app_with_report(dir.path(), "blocked-loop.js");
    let dom = rendered(dir.path());
    let verdict = dom
        .find("id=\"verdict\"")
        .map(|at| &dom[at..])
        .expect("no verdict");
    assert!(
        verdict.contains("Blocked event loop") && verdict.contains("busyWork"),
        "the verdict does not name the hot function"
    );
    let profile = dom
        .find("<section id=\"profile\">")
        .map(|at| &dom[at..])
        .expect("no 'Where the time goes' section");
    let flame = profile
        .find("<figure id=\"flame\"")
        .map(|at| &profile[at..])
        .expect("no flame graph");
    assert!(flame.contains("<svg"), "the flame graph has no SVG");
    // Each bar says what it is on hover: its function, file and line, and share.
    assert!(
        flame.contains("<title>busyWork (blocked-loop.js:16): "),
        "no title on busyWork's bar"
    );
    assert!(profile.contains("By self time") && profile.contains("By total time"));
    let saved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cpuprofile"))
        .collect();
    assert_eq!(saved.len(), 1, "the raw profile is saved beside the report");
}

#[test]
fn a_saved_result_renders_again_to_the_same_verdict() {
    let dir = tempfile::tempdir().unwrap();
    run_with_report(dir.path());
    let again = dir.path().join("again.html");
    let output = harness()
        .args(["report"])
        .arg(dir.path().join("result.json"))
        .arg("-o")
        .arg(&again)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let second = std::fs::read_to_string(&again).unwrap();
    assert_eq!(
        first, second,
        "a report is a pure function of the saved result"
    );
}

#[test]
fn report_refuses_a_result_from_a_newer_harness() {
    let server = TestServer::start(Behaviour::Fixed(Duration::ZERO));
    let mut result = run_json(&["-c", "1", "-a", "5", &server.url()]);
    result["schemaVersion"] = 99.into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.json");
    std::fs::write(&file, result.to_string()).unwrap();
    let output = harness().arg("report").arg(&file).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("newer harness") && stderr.contains("99"),
        "{stderr}"
    );
    assert!(!dir.path().join("report.html").exists());
}

#[test]
fn report_refuses_a_file_that_is_not_a_result() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("x.json");
    std::fs::write(&bogus, "{\"hello\": 1}").unwrap();
    let output = harness().arg("report").arg(&bogus).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("x.json") && stderr.contains("not a harness result"),
        "{stderr}"
    );
    assert!(!dir.path().join("report.html").exists());
}
