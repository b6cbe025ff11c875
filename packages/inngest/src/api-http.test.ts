import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { afterAll, describe, expect, it } from "vitest";
import { createInngestApi } from "./api.js";
import { failReply, hasServerKind, jsonReply } from "./api-http.js";

describe("API replies", () => {
  it("builds JSON replies that carry the server kind header", async () => {
    const reply = jsonReply("cloud")(201, { ok: true });
    expect(reply.status).toBe(201);
    expect(reply.headers.get("content-type")).toBe("application/json");
    expect(reply.headers.get("x-inngest-server-kind")).toBe("cloud");
    expect(await reply.json()).toEqual({ ok: true });
    expect(hasServerKind(reply)).toBe(true);
    const failed = failReply("dev")(400, "body: bad");
    expect(hasServerKind(failed)).toBe(true);
    expect(await failed.json()).toEqual({ status: 400, error: "body: bad" });
    expect(hasServerKind(Response.json({ ok: true }))).toBe(false);
  });

  describe("through the API", () => {
    const flows = createFlows({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      keepProcessAlive: false,
    });
    const api = createInngestApi({ flows, mode: "dev" });
    afterAll(async () => {
      await api.close();
      await flows.close();
    });

    it("answers a realtime publish with a reply built with the header, not patched after", async () => {
      const published = await api.app.fetch(
        new Request("http://troupe.test/v1/realtime/publish?channel=c&topic=t", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ n: 1 }),
        }),
      );
      expect(published.status).toBe(200);
      expect(await published.clone().json()).toEqual({ ok: true });
      expect(published.headers.get("x-inngest-server-kind")).toBe("dev");
      expect(hasServerKind(published)).toBe(true);
    });

    it("still adds the header to replies built without it", async () => {
      const missing = await api.app.fetch(new Request("http://troupe.test/no/such/route"));
      expect(missing.status).toBe(404);
      expect(missing.headers.get("x-inngest-server-kind")).toBe("dev");
      const health = await api.app.fetch(new Request("http://troupe.test/health"));
      expect(health.headers.get("x-inngest-server-kind")).toBe("dev");
      expect(hasServerKind(health)).toBe(false);
    });
  });
});
