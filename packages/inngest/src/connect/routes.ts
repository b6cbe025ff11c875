import type { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ConnectGateway } from "./gateway.js";

const protobuf = { "content-type": "application/protobuf" };

/**
 * `POST /v0/connect/start` (protobuf `StartRequest` → `StartResponse`: where to open the socket,
 * and a one-time session token) and `POST /v0/connect/flush` (a reply the worker buffered while
 * disconnected). Callers are authorised by the API's `/v0/*` check, registered first.
 */
export function mountConnectRoutes(
  app: Hono,
  gateway: ConnectGateway,
  fail: (status: ContentfulStatusCode, message: string) => Response,
): void {
  app.post("/v0/connect/start", (c) => {
    const url = new URL(c.req.url);
    const host = c.req.header("host") ?? url.host;
    const secure = (c.req.header("x-forwarded-proto") ?? url.protocol.replace(":", "")) === "https";
    return new Response(Buffer.from(gateway.start(host, secure)), { headers: protobuf });
  });
  app.post("/v0/connect/flush", async (c) => {
    try {
      return new Response(Buffer.from(gateway.flush(new Uint8Array(await c.req.arrayBuffer()))), {
        headers: protobuf,
      });
    } catch {
      return fail(400, "body: expected a protobuf SDKResponse");
    }
  });
}
