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

// Exit 4, harness's code for "harness itself failed", so that CI does not read a broken
// install as a threshold that was not met (1).
function fail(message) {
  process.stderr.write(`harness: ${message}\n`);
  process.exit(4);
}

const child = spawn(binary(), process.argv.slice(2), { stdio: "inherit" });
child.on("error", (err) => fail(`could not start ${path.basename(err.path || "harness")}: ${err.message}`));
// Every stopping signal is passed on, so that one sent to the launcher alone (a CI cancel,
// kill PID) reaches harness; this launcher then waits for harness to stop the load and the
// target and print the result. A signal sent to the whole process group (Ctrl-C) thus
// reaches harness twice at once, which harness counts as one (a second one, 300 ms or more
// later, means "kill the target and leave now").
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else {
    process.exit(code);
  }
});
