import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { describeSigningRotation } from "./signing-rotation-suite.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };

describeSigningRotation("inngest v4", (baseUrl, { signingKey, signingKeyFallback, eventKey }) => {
  const client = new Inngest({
    id: "rotating",
    baseUrl,
    logger: silent,
    isDev: false,
    signingKey,
    ...(signingKeyFallback ? { signingKeyFallback } : {}),
    eventKey,
  });
  const greet = client.createFunction(
    { id: "greet", retries: 0, triggers: [{ event: "demo/rotate" }] },
    async ({ event, step }) => step.run("greet", () => `hello ${String(event.data.who)}`),
  );
  return {
    send: (event) => client.send(event),
    listener: serve({ client, functions: [greet] }),
  };
});
