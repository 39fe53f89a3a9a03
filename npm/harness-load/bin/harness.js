#!/usr/bin/env node
// The `harness` command from npm: finds the native binary in the platform package that npm
// installed beside this one (selected through its `os` and `cpu` fields) and runs it with
// this process's arguments, terminal and exit status.
"use strict";

const { spawn } = require("child_process");
const path = require("path");

const PLATFORMS = {
  "linux-x64": "@harness-load/linux-x64",
  "linux-arm64": "@harness-load/linux-arm64",
  "darwin-x64": "@harness-load/darwin-x64",
  "darwin-arm64": "@harness-load/darwin-arm64",
};

function binary() {
  if (process.env.HARNESS_BINARY) {
    return process.env.HARNESS_BINARY;
  }
  const key = `${process.platform}-${process.arch}`;
  const name = PLATFORMS[key];
  if (!name) {
    fail(
      `no harness binary for ${key}: packages exist for ${Object.keys(PLATFORMS).join(", ")}; ` +
        "on another platform build it from source (cargo install --path . in the repository)"
    );
  }
  try {
    return require.resolve(`${name}/bin/harness`);
  } catch {
    fail(
      `the package ${name} (the harness binary for ${key}) is not installed: ` +
        "reinstall without --no-optional / --omit=optional, or run: npm install " +
        name
    );
  }
}

function fail(message) {
  process.stderr.write(`harness: ${message}\n`);
  process.exit(1);
}

const child = spawn(binary(), process.argv.slice(2), { stdio: "inherit" });
child.on("error", (err) => fail(`could not start ${path.basename(err.path || "harness")}: ${err.message}`));
// Ctrl-C reaches harness through the terminal's process group; harness then stops the load
// and the target and prints the result, so this launcher waits for it. A signal sent to the
// launcher alone (a CI cancel) is passed on.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) {
  process.on(signal, () => {
    if (signal !== "SIGINT") {
      child.kill(signal);
    }
  });
}
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code);
  }
});
