//! Sharded runs: the Kubernetes manifest's own command lines, run as local processes with
//! `JOB_COMPLETION_INDEX` set, then `harness merge`.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{harness, Behaviour, TestServer};

/// The manifest's line `KEY: [...]` after `after`, as the strings of its JSON array (the
/// manifest writes these lines in YAML's flow style, which is JSON).
fn manifest_list(manifest: &str, after: &str, key: &str) -> Vec<String> {
    let start = manifest
        .find(after)
        .expect("section missing from the manifest");
    let line = manifest[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} after {after}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{key} is not a flow list ({e}): {line}"))
}

/// Kubernetes' `$(VAR)` expansion (`$$` is a literal `$`), and the shared volume moved to
/// `results`.
fn expand(arg: &str, vars: &[(&str, String)], results: &Path) -> String {
    let mut arg = arg.to_string();
    for (name, value) in vars {
        arg = arg.replace(&format!("$({name})"), value);
    }
    arg.replace("$$", "$")
        .replace("/results", &results.display().to_string())
}

fn shard_histogram(result: &serde_json::Value) -> hdrhistogram::Histogram<u64> {
    let encoded: harness::result::EncodedHistogram =
        serde_json::from_value(result["histogram"].clone()).unwrap();
    harness::result::decode(&encoded).unwrap()
}

/// Two shards of one load, started together by --start-at, merge into exactly their sum:
/// counts, the latency histogram (decoded here) and each second. A threshold that fails on
/// the whole fails the merge (exit 1) and JUnit names it; files that are not shards of one
/// run are refused.
#[test]
fn the_manifests_shards_run_locally_and_merge_exactly() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/harness-shards.yaml"),
    )
    .unwrap();
    let server = TestServer::start(Behaviour::Fixed(Duration::from_millis(1)));
    let results = tempfile::tempdir().unwrap();
    let start_at = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2));
    let args = manifest_list(&manifest, "name: harness-shards", "args");
    assert!(args.contains(&"index/2".to_string()), "{args:?}");
    let shards: Vec<_> = (0..2)
        .map(|index| {
            let vars = [
                ("START_AT", start_at.to_string()),
                ("TARGET_URL", server.url()),
                ("CONNECTIONS", "6".to_string()),
                ("DURATION", "3s".to_string()),
                ("JOB_COMPLETION_INDEX", index.to_string()),
                ("RUN_ID", "run-7".to_string()),
            ];
            let args: Vec<String> = args
                .iter()
                .map(|a| expand(a, &vars, results.path()))
                .collect();
            std::process::Command::new(assert_cmd::cargo::cargo_bin("harness"))
                .args(&args)
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .env_remove("GITHUB_STEP_SUMMARY")
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut shard in shards {
        assert!(shard.wait().unwrap().success());
    }
    let run = results.path().join("run-7");
    let read = |path: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let parts: Vec<serde_json::Value> = (0..2)
        .map(|i| read(&run.join(format!("shard-{i}/result.json"))))
        .collect();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part["shard"]["index"], i as u64 + 1);
        assert_eq!(part["shard"]["count"], 2);
        assert_eq!(part["connections"], 3, "6 connections split 2 ways");
        assert_eq!(part["shard"]["lateBy"], 0.0, "{}", part["shard"]);
    }

    // The manifest's merge command, through a shell as in the pod.
    let command = manifest_list(&manifest, "name: harness-merge", "command");
    let bin_dir = assert_cmd::cargo::cargo_bin("harness")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let merged = std::process::Command::new(&command[0])
        .args(
            command[1..]
                .iter()
                .map(|a| expand(a, &[("RUN_ID", "run-7".to_string())], results.path())),
        )
        .env("PATH", &path)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&merged.stdout);
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert!(stdout.contains("Merged 2 shard(s)"), "{stdout}");
    let whole = read(&run.join("merged/result.json"));
    for key in ["total", "sent"] {
        let sum: u64 = parts
            .iter()
            .map(|p| p["requests"][key].as_u64().unwrap())
            .sum();
        assert_eq!(
            whole["requests"][key].as_u64().unwrap(),
            sum,
            "requests.{key}"
        );
    }
    let errors: u64 = parts.iter().map(|p| p["errors"].as_u64().unwrap()).sum();
    assert_eq!(whole["errors"].as_u64().unwrap(), errors);
    assert_eq!(whole["connections"], 6);
    let mut sum = shard_histogram(&parts[0]);
    sum.add(shard_histogram(&parts[1])).unwrap();
    let merged_histogram = shard_histogram(&whole);
    assert_eq!(merged_histogram.len(), sum.len());
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(
            merged_histogram.value_at_quantile(q),
            sum.value_at_quantile(q),
            "q {q}"
        );
    }
    // Started together, the shards' seconds line up one to one.
    let series = whole["series"].as_array().unwrap();
    let seconds = parts[0]["series"].as_array().unwrap().len();
    assert_eq!(series.len(), seconds, "{series:?}");
    for (i, second) in series.iter().enumerate() {
        let sum: u64 = parts
            .iter()
            .map(|p| p["series"][i]["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(second["requests"].as_u64().unwrap(), sum, "second {i}");
    }
    assert!(run.join("merged/report.html").exists());
    assert!(std::fs::read_to_string(run.join("junit.xml"))
        .unwrap()
        .contains("failures=\"0\""));

    // A threshold the whole does not meet fails the merge, and JUnit says which.
    let shard_files = [
        run.join("shard-0/result.json"),
        run.join("shard-1/result.json"),
    ];
    let junit = results.path().join("strict.xml");
    let strict = harness()
        .arg("merge")
        .args(&shard_files)
        .args([
            "--threshold",
            "p99<1us",
            "--threshold",
            "errors<1%",
            "--junit",
        ])
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1), "{strict:?}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("p99&lt;1us not met"),
        "{xml}"
    );

    // Not shards of one run: refused with one line naming the files.
    let refused = |files: &[&Path], what: &str| {
        let output = harness().arg("merge").args(files).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{what}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains(what), "{what}: {stderr}");
    };
    refused(&[&shard_files[0], &shard_files[0]], "are both shard 1 of 2");
    refused(&[&shard_files[0]], "shard 2 of 2 missing");
    let mut other = parts[1].clone();
    other["url"] = serde_json::Value::String("http://127.0.0.1:9/other".to_string());
    let other_file = results.path().join("other.json");
    std::fs::write(&other_file, other.to_string()).unwrap();
    refused(&[&shard_files[0], &other_file], "differs from");
    let mut old = parts[1].clone();
    old["start"] = serde_json::Value::String("2020-01-01T00:00:00.000Z".to_string());
    let old_file = results.path().join("old.json");
    std::fs::write(&old_file, old.to_string()).unwrap();
    refused(&[&shard_files[0], &old_file], "results of different runs?");

    // Files no run wrote: each refused in one line.
    let edited = |edit: &dyn Fn(&mut serde_json::Value), name: &str| {
        let mut value = parts[1].clone();
        edit(&mut value);
        let file = results.path().join(name);
        std::fs::write(&file, value.to_string()).unwrap();
        file
    };
    let zero = edited(&|v| v["shard"]["index"] = 0.into(), "zero.json");
    refused(
        &[&shard_files[0], &zero],
        "which cannot be (I runs from 1 to N)",
    );
    let long = edited(&|v| v["duration"] = 1e295.into(), "long.json");
    refused(
        &[&shard_files[0], &long],
        "its duration (1.000e295 s) cannot be",
    );
    let unit = edited(&|v| v["histogram"]["unit"] = "ms".into(), "unit.json");
    refused(&[&shard_files[0], &unit], "in unit 'ms'");
    let total = edited(&|v| v["requests"]["total"] = 7.into(), "total.json");
    refused(&[&shard_files[0], &total], "but requests.total says 7");
    let huge = edited(&|v| v["timeouts"] = u64::MAX.into(), "huge.json");
    let huge_too = results.path().join("huge-too.json");
    let mut first = parts[0].clone();
    first["timeouts"] = u64::MAX.into();
    std::fs::write(&huge_too, first.to_string()).unwrap();
    refused(&[&huge_too, &huge], "timeouts add up past 2^64");
    // A deflate bomb where the histogram should be: 64 MiB of zeros in 64 kB.
    let bomb = {
        use std::io::Write;
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            encoder.write_all(&zeros).unwrap();
        }
        let deflated = encoder.finish().unwrap();
        let mut bytes = vec![0x1c, 0x84, 0x93, 0x14];
        bytes.extend((deflated.len() as u32).to_be_bytes());
        bytes.extend(deflated);
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let bombed = edited(
        &|v| v["histogram"]["data"] = bomb.clone().into(),
        "bomb.json",
    );
    refused(&[&shard_files[0], &bombed], "inflates past 1 MiB");
}
