#!/usr/bin/env node
// Fails when a tracked file reaches outside the repository: a relative path that climbs above
// the repository root (a sibling folder of the clone, reached from a README or a test), or an
// absolute path into one developer's machine (under /home or /Users). A plain clone with nothing
// beside it must install, build and pass its tests. A line that names such a path on purpose
// carries the marker below. Usage: node tooling/self-contained.mjs [repo-root]
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(process.argv[2] ?? ".");
// Generated or vendored files that hold no paths of ours.
const SKIPPED = [/^pnpm-lock\.yaml$/, /\.(png|jpe?g|gif|ico|woff2?|tgz)$/];
// A run of `../` followed by a name: the relative paths files use to reach other files.
const RELATIVE = /(?:^|[\s"'`(=[,:])((?:\.\.\/)+)([A-Za-z0-9_@.-][^\s"'`)\]>,;]*)?/g;
// Absolute paths into someone's machine rather than the repository.
const ABSOLUTE = /(?:^|[\s"'`(=[,:])(\/(?:work|home|Users|root)\/[^\s"'`)\]>,;]*)/g;
// Lines that mention an escaping path on purpose (a traversal a test proves is refused) say so.
const ALLOW = "self-contained: allow";

function trackedFiles() {
  const out = execFileSync("git", ["ls-files", "-z", "--cached"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return out.split("\0").filter((file) => file !== "");
}

/** The escaping references in one file's text, as `line: text` findings. */
export function findEscapes(file, text) {
  const findings = [];
  const dir = path.dirname(path.join(root, file));
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (line.includes(ALLOW)) return;
    for (const match of line.matchAll(RELATIVE)) {
      const climb = match[1] ?? "";
      const target = path.resolve(dir, climb, match[2] ?? "");
      // Shell commands in the root README and scripts run from the root: resolve from there too.
      const fromRoot = path.resolve(root, climb, match[2] ?? "");
      const outside = (p) => p !== root && !p.startsWith(root + path.sep);
      if (outside(target) || (path.dirname(file) === "." && outside(fromRoot))) {
        findings.push(`${file}:${index + 1}: ${climb}${match[2] ?? ""} leaves the repository`);
      }
    }
    for (const match of line.matchAll(ABSOLUTE)) {
      findings.push(`${file}:${index + 1}: ${match[1]} is a path on one machine`);
    }
  });
  return findings;
}

const findings = [];
for (const file of trackedFiles()) {
  if (SKIPPED.some((pattern) => pattern.test(file))) continue;
  let text;
  try {
    text = readFileSync(path.join(root, file), "utf8");
  } catch {
    continue; // deleted in the work tree
  }
  if (text.includes("\0")) continue; // binary
  findings.push(...findEscapes(file, text));
}
if (findings.length > 0) {
  console.error(`self-contained: ${findings.length} reference(s) outside the repository:`);
  for (const finding of findings) console.error(`  ${finding}`);
  process.exit(1);
}
console.log("self-contained: no tracked file reaches outside the repository");
