//! The npm package: `npm/pack.sh` packs the launcher and this platform's binary, an offline
//! install of the tarballs into an empty folder gives a working `npx harness`.

use std::path::Path;
use std::process::{Command, Output};

fn npm_tool(tool: &str, dir: &Path, cache: &Path) -> Command {
    let mut command = Command::new(tool);
    command
        .current_dir(dir)
        // An empty cache: nothing can come from an earlier install or the network.
        .env("npm_config_cache", cache)
        .env("npm_config_update_notifier", "false")
        .env_remove("GITHUB_STEP_SUMMARY");
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A Node developer's way in: `npm install` of the packed tarballs with no network, then
/// `npx harness --version` and a two-second run of an example app; without the platform
/// package, the launcher says which package is missing in one line.
#[test]
fn the_npm_package_installs_offline_and_runs_through_npx() {
    if Command::new("npm").arg("--version").output().is_err() {
        panic!("this test needs npm: apt-get install npm (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let (out, project, cache) = (
        dir.path().join("npm"),
        dir.path().join("project"),
        dir.path().join("cache"),
    );
    std::fs::create_dir_all(&project).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let packed = Command::new(root.join("npm/pack.sh"))
        .env("BINARY", assert_cmd::cargo::cargo_bin("harness"))
        .env("OUT", &out)
        .env("npm_config_cache", &cache)
        .output()
        .unwrap();
    assert!(packed.status.success(), "pack.sh: {}", text(&packed));
    let version = env!("CARGO_PKG_VERSION");
    let main = out.join(format!("harness-load-{version}.tgz"));
    let platform = out.join(format!("harness-load-linux-x64-{version}.tgz"));
    assert!(main.exists() && platform.exists(), "{}", text(&packed));

    let installed = npm_tool("npm", &project, &cache)
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(&main)
        .arg(&platform)
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "npm install: {}",
        text(&installed)
    );

    let version_output = npm_tool("npx", &project, &cache)
        .args(["--offline", "harness", "--version"])
        .output()
        .unwrap();
    assert!(version_output.status.success(), "{}", text(&version_output));
    assert_eq!(
        String::from_utf8_lossy(&version_output.stdout).trim(),
        format!("harness {version}")
    );

    let run = npm_tool("npx", &project, &cache)
        .args(["--offline", "harness", "-c", "2", "-d", "2", "--json", "-n"])
        .args(["http://127.0.0.1:0/", "--", "node"])
        .arg(crate::support::app("hello.js"))
        .output()
        .unwrap();
    assert!(run.status.success(), "npx harness run: {}", text(&run));
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(result["requests"]["total"].as_u64().unwrap() > 0);
    assert!(
        result["node"].as_array().is_some_and(|n| !n.is_empty()),
        "the probe did not watch the app: {}",
        result["target"]
    );

    std::fs::remove_dir_all(project.join("node_modules/@harness-load/linux-x64")).unwrap();
    let missing = npm_tool("npx", &project, &cache)
        .args(["--offline", "harness", "--version"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("harness: ") && stderr.contains("@harness-load/linux-x64"),
        "{stderr}"
    );
}
