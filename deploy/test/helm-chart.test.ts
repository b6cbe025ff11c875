import { fileURLToPath } from "node:url";
import { parseRuntimeConfig } from "@troupe/runtime";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { readChart, renderChart, valuePaths } from "./helm-render.js";

const CHART = fileURLToPath(new URL("../helm/troupe", import.meta.url));

// The kinds the chart renders, each validated against the upstream Kubernetes OpenAPI schema
// that kubernetes-models ships (required fields, types, enums, formats).
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
};

type Manifest = Record<string, unknown>;

function validate(manifest: Manifest): void {
  const kind = `${manifest.apiVersion}/${manifest.kind}`;
  const Model = MODELS[kind];
  if (Model === undefined) throw new Error(`no schema for ${kind}`);
  new Model(manifest as never).validate();
}

function manifests(values: Record<string, unknown> = {}): Manifest[] {
  return renderChart(CHART, { values }).flatMap((template) => template.manifests);
}

function find(all: Manifest[], kind: string, name?: string): Manifest {
  const found = all.find(
    (m) =>
      m.kind === kind &&
      (name === undefined || (m.metadata as { name?: string } | undefined)?.name === name),
  );
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ""} rendered`);
  return found;
}

// biome-ignore lint/suspicious/noExplicitAny: walking rendered manifests by path
type Any = any;

describe("Helm chart deploy/helm/troupe", () => {
  it("renders a Deployment, Service and ConfigMap that pass the Kubernetes schemas", () => {
    const all = manifests();
    expect(all.map((m) => m.kind).sort()).toEqual(["ConfigMap", "Deployment", "Service"]);
    for (const manifest of all) expect(() => validate(manifest)).not.toThrow();
  });

  it("renders the headless peers Service when enabled, also schema-valid", () => {
    const all = manifests({ headless: { enabled: true } });
    const peers = find(all, "Service", "troupe-peers") as Any;
    expect(peers.spec.clusterIP).toBe("None");
    for (const manifest of all) expect(() => validate(manifest)).not.toThrow();
  });

  it("fails validation for an invalid manifest (the negative case)", () => {
    // A replica count that is not a number, as a typo in values would produce.
    const bad = manifests({ replicas: "two" });
    expect(() => validate(find(bad, "Deployment"))).toThrow(/replicas/);
    // A port given by name where a number is required, then a container without a name.
    const deployment = structuredClone(find(manifests(), "Deployment")) as Any;
    deployment.spec.template.spec.containers[0].ports[0].containerPort = "http";
    expect(() => validate(deployment)).toThrow(/containerPort/);
    delete deployment.spec.template.spec.containers[0].ports;
    delete deployment.spec.template.spec.containers[0].name;
    expect(() => validate(deployment)).toThrow(/name/);
  });

  it("takes secrets only by secretKeyRef and never renders a secret value", () => {
    const deployment = find(manifests(), "Deployment") as Any;
    const env: Any[] = deployment.spec.template.spec.containers[0].env;
    for (const name of [
      "TROUPE_SIGNING_KEY",
      "TROUPE_EVENT_KEY",
      "TROUPE_AUTH_TOKEN",
      "TROUPE_STORAGE_URL",
    ]) {
      const variable = env.find((item) => item.name === name);
      expect(variable?.value).toBeUndefined();
      expect(variable?.valueFrom?.secretKeyRef).toMatchObject({ name: "troupe" });
    }
    const optional = find(
      manifests({
        secretEnv: [
          {
            name: "TROUPE_SIGNING_KEY_FALLBACK",
            secretName: "rotation",
            key: "old",
            optional: true,
          },
        ],
      }),
      "Deployment",
    ) as Any;
    expect(optional.spec.template.spec.containers[0].env).toContainEqual({
      name: "TROUPE_SIGNING_KEY_FALLBACK",
      valueFrom: { secretKeyRef: { name: "rotation", key: "old", optional: true } },
    });
  });

  it("probes /health, runs non-root on a read-only root filesystem, with resources set", () => {
    const pod = (find(manifests(), "Deployment") as Any).spec.template.spec;
    const container = pod.containers[0];
    expect(container.readinessProbe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(container.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.resources).toEqual({
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });
    expect(container.args).toEqual(["start", "--config", "/etc/troupe/troupe.config.json"]);
  });

  it("writes a config file the runtime accepts, and a grace period longer than its drain", () => {
    for (const values of [
      {},
      { config: { shutdownTimeoutMs: 60000 }, terminationGracePeriodSeconds: 75 },
    ]) {
      const all = manifests(values);
      const text = (find(all, "ConfigMap") as Any).data["troupe.config.json"];
      const config = parseRuntimeConfig(JSON.parse(text));
      const pod = (find(all, "Deployment") as Any).spec.template.spec;
      // The runtime drains for up to shutdownTimeoutMs, then gives its HTTP server up to 5 s.
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
        config.shutdownTimeoutMs + 5000,
      );
    }
    const config = JSON.parse(
      (find(manifests({ config: { logLevel: "warn" } }), "ConfigMap") as Any).data[
        "troupe.config.json"
      ],
    );
    expect(() => parseRuntimeConfig(config)).not.toThrow();
    const wrong = JSON.parse(
      (find(manifests({ config: { logLevel: "loud" } }), "ConfigMap") as Any).data[
        "troupe.config.json"
      ],
    );
    expect(() => parseRuntimeConfig(wrong)).toThrow(/log\.level/);
  });

  it("keeps to what the Go-template subset renders as Helm does", () => {
    // Every value a template reads exists in values.yaml: Helm fails on a lookup through a
    // missing map, where the JavaScript renderer would print nothing.
    const { values } = readChart(CHART);
    for (const [file, paths] of valuePaths(CHART)) {
      for (const dotted of paths) {
        let node: unknown = values;
        for (const part of dotted.slice(1).split(".")) {
          expect(node, `${file}: .Values${dotted}`).toBeTypeOf("object");
          node = (node as Record<string, unknown>)[part];
        }
        expect(node, `${file}: .Values${dotted} is in values.yaml`).not.toBeUndefined();
      }
    }
    // Helm reads numbers as float64 and prints 1e+06 for a million: whole numbers below that
    // print the same in Go and JavaScript.
    const numbers: number[] = [];
    const walk = (node: unknown) => {
      if (typeof node === "number") numbers.push(node);
      else if (typeof node === "object" && node !== null) Object.values(node).forEach(walk);
    };
    walk(values);
    for (const value of numbers)
      expect(Number.isInteger(value) && Math.abs(value) < 1e6).toBe(true);
  });
});
