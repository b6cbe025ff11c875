// The image's health check: exits 0 when the runtime on this container answers GET /health with
// 200 (it answers 503 while draining), 1 otherwise. Node's fetch, because the image has no curl.
const port = process.env.TROUPE_PORT || "8288";
try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, {
    signal: AbortSignal.timeout(2_000),
  });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
