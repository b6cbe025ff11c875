// The installed CLI, as a stranger runs it from an empty folder: `npx @troupe/cli dev` serves the
// dashboard, its API and the Inngest endpoints; Ctrl-C stops it cleanly; `troupe stats resolve`
// reads the sample registry the stats package ships. Run from the consumer project's folder.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const npx = process.platform === "win32" ? "npx.cmd" : "npx";

const version = spawnSync(npx, ["--no-install", "@troupe/cli", "--version"], { encoding: "utf8" });
assert.equal(version.status, 0, version.stderr);
console.log(`cli: troupe --version → ${version.stdout.trim()}`);

// Its own process group, as a terminal runs it: Ctrl-C below reaches npx and troupe together.
const child = spawn(
  npx,
  ["--no-install", "@troupe/cli", "dev", "--port", "0", "--log-level", "warn"],
  { stdio: ["ignore", "pipe", "pipe"], detached: true },
);
let output = "";
child.stdout.on("data", (chunk) => {
  output += chunk;
});
child.stderr.on("data", (chunk) => {
  output += chunk;
});
const exited = new Promise((resolve) =>
  child.on("exit", (code, signal) => resolve({ code, signal })),
);

let url;
for (let attempt = 0; attempt < 600 && url === undefined; attempt++) {
  url = /troupe dev — (http:\/\/[^\s]+)/.exec(output)?.[1];
  if (url === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
}
assert.ok(url, `troupe dev printed no address:\n${output}`);
console.log(`cli: troupe dev listens on ${url}`);

try {
  const page = await fetch(`${url}/`, { headers: { accept: "text/html" } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i, "the dashboard's index.html");
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  const info = await fetch(`${url}/api/info`);
  assert.equal(info.status, 200, "the dashboard's API");
  const dev = await (await fetch(`${url}/dev`)).json();
  assert.equal(dev.startOpts.dev, true, "the Inngest dev-server probe");
  const sent = await fetch(`${url}/e/any-key`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "ci/ping", data: {} }),
  });
  assert.equal(sent.status, 200, "the Inngest event API");
  assert.equal((await sent.json()).ids.length, 1);
  console.log("cli: dashboard at /, /health, /api/info, /dev and POST /e/:key answer");
} finally {
  // Ctrl-C: SIGINT to the whole foreground group.
  process.kill(-child.pid, "SIGINT");
}
await exited;
// Stopped means the port no longer answers.
let answering = true;
for (let attempt = 0; attempt < 200 && answering; attempt++) {
  answering = await fetch(`${url}/health`).then(
    () => true,
    () => false,
  );
  if (answering) await new Promise((resolve) => setTimeout(resolve, 50));
}
assert.equal(answering, false, `troupe dev still answers after Ctrl-C:\n${output}`);
assert.doesNotMatch(output, /Error|ERR!/, `troupe dev printed an error:\n${output}`);
console.log("cli: troupe dev stopped on Ctrl-C");

// `troupe stats resolve` with the sample registry shipped in @troupe/stats.
const stats = path.dirname(createRequire(import.meta.url).resolve("@troupe/stats/package.json"));
const input = path.resolve("subsystems.json");
writeFileSync(
  input,
  JSON.stringify([
    {
      primary: [{ dimension: "strength", bucket: "FLAT", value: 12, system: "items" }],
      derived: [],
      caps: [],
      meta: { system: "items" },
    },
  ]),
);
const resolved = spawnSync(
  npx,
  [
    "--no-install",
    "troupe",
    "stats",
    "resolve",
    "--registry",
    path.join(stats, "examples", "Registry.example.yml"),
    input,
  ],
  { encoding: "utf8" },
);
assert.equal(resolved.status, 0, resolved.stderr);
assert.ok("Primary" in JSON.parse(resolved.stdout), resolved.stdout);
console.log("cli: troupe stats resolve with the shipped sample registry");
