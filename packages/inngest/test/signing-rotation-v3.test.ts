import { Inngest } from "inngest-v3";
import { serve } from "inngest-v3/node";
import { describeSigningRotation } from "./signing-rotation-suite.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };

// v3 takes the fallback key as a serve option (and its API client from the environment).
describeSigningRotation("inngest v3", (baseUrl, { signingKey, signingKeyFallback, eventKey }) => {
  const client = new Inngest({ id: "rotating", baseUrl, logger: silent, isDev: false, eventKey });
  const greet = client.createFunction(
    { id: "greet", retries: 0 },
    { event: "demo/rotate" },
    async ({ event, step }) => step.run("greet", () => `hello ${String(event.data.who)}`),
  );
  return {
    send: (event) => client.send(event),
    listener: serve({
      client,
      functions: [greet],
      signingKey,
      ...(signingKeyFallback ? { signingKeyFallback } : {}),
    }),
  };
});
