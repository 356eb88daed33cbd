import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parseAllDocuments } from "yaml";
import { loadConfig, settingNames } from "../../src/config.ts";
import { HealthState } from "../../src/rpc/health-state.ts";

// The deployment manifests parse, and the fields that must agree with the code do.

const read = (name: string) =>
  parseAllDocuments(readFileSync(new URL(`../../deploy/k8s/${name}`, import.meta.url), "utf8")).map(
    (d) => d.toJS(),
  );
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, navigated by the tests
type Json = Record<string, any>;

const [deployment] = read("deployment.yaml") as Json[];
const [service] = read("service.yaml") as Json[];
const container = deployment!.spec.template.spec.containers[0];
const env = Object.fromEntries(
  (container.env as { name: string; value?: string }[]).map((e) => [e.name, e.value ?? "<secret>"]),
);

test("every manifest parses, with the kinds expected", () => {
  const kinds = [
    "deployment.yaml",
    "service.yaml",
    "pdb.yaml",
    "hpa.yaml",
    "secret.yaml",
    "istio.yaml",
  ].flatMap((f) => read(f).map((d: Json) => d.kind));
  assert.deepEqual(kinds.sort(), [
    "Deployment",
    "EnvoyFilter",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Secret",
    "Service",
    "VirtualService",
  ]);
  const kustomized = (read("kustomization.yaml")[0] as Json).resources as string[];
  for (const file of kustomized) assert.ok(read(file).length > 0, file);
});

test("every environment variable in the Deployment is a setting geminate knows, and valid", () => {
  const known = new Set(settingNames());
  for (const name of Object.keys(env))
    assert.ok(known.has(name), `${name} is not a geminate setting`);
  const config = loadConfig({ ...env, GEMINI_API_KEY: "k", GEMINATE_API_KEYS: "c" });
  assert.equal(config.production, true);
  assert.equal(config.port, 8080);
  assert.equal(config.metricsPort, 9090);
});

test("ports agree: container, Service (appProtocol grpc for the mesh), probes and metrics", () => {
  const ports = Object.fromEntries(
    (container.ports as { name: string; containerPort: number }[]).map((p) => [
      p.name,
      p.containerPort,
    ]),
  );
  assert.equal(ports["grpc-api"], Number(env.PORT));
  assert.equal(ports["http-metrics"], Number(env.METRICS_PORT));
  const api = (service!.spec.ports as Json[]).find((p) => p.name === "grpc-api")!;
  assert.equal(api.appProtocol, "grpc");
  assert.equal(api.targetPort, "grpc-api");
  assert.equal(
    deployment!.spec.template.metadata.annotations["prometheus.io/port"],
    env.METRICS_PORT,
  );
});

test("probes ask health services geminate serves, on the numeric port", () => {
  const services = new HealthState().services;
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const grpc = container[probe].grpc;
    assert.equal(grpc.port, Number(env.PORT), probe);
    assert.ok(services.includes(grpc.service), `${probe} asks for ${grpc.service}`);
  }
  assert.equal(container.readinessProbe.grpc.service, "readiness");
  assert.equal(container.livenessProbe.grpc.service, "liveness");
});

test("termination grace covers the drain delay plus the shutdown grace, and the sidecar outlives it", () => {
  const grace = deployment!.spec.template.spec.terminationGracePeriodSeconds * 1000;
  const needed = Number(env.GEMINATE_DRAIN_DELAY_MS) + Number(env.GEMINATE_SHUTDOWN_GRACE_MS);
  assert.ok(grace > needed + 1000, `${grace} ms ≤ ${needed} ms + margin`);
  const drain = /terminationDrainDuration: (\d+)s/.exec(
    deployment!.spec.template.metadata.annotations["proxy.istio.io/config"],
  );
  assert.ok(Number(drain?.[1]) * 1000 >= needed, "the Istio sidecar drains at least as long");
});

test("keys come from the Secret, whose keys exist", () => {
  const [secret] = read("secret.yaml") as Json[];
  for (const name of ["GEMINI_API_KEY", "GEMINATE_API_KEYS"]) {
    const ref = (container.env as Json[]).find((e) => e.name === name)!.valueFrom.secretKeyRef;
    assert.equal(ref.name, secret!.metadata.name);
    assert.ok(ref.key in secret!.stringData, ref.key);
  }
});

test("the Dockerfile runs what npm start runs (the built bundle) on the project's Node major, as a non-root user", () => {
  const dockerfile = readFileSync(new URL("../../Dockerfile", import.meta.url), "utf8");
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    engines: { node: string };
    scripts: { start: string };
  };
  for (const m of dockerfile.matchAll(/^FROM node:(\d+)/gm))
    assert.equal(m[1], /\d+/.exec(pkg.engines.node)![0]);
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, /^RUN node scripts\/build.ts dist/m);
  // esbuild's binary is an optional dependency: the install before the build must keep them.
  const install = dockerfile.slice(0, dockerfile.indexOf("RUN node scripts/build.ts"));
  assert.doesNotMatch(install.slice(install.lastIndexOf("npm ci")), /--omit=optional/);
  const [, cmd] = /^CMD (\[.*\])$/m.exec(dockerfile)!;
  const args = JSON.parse(cmd!) as string[];
  assert.ok(pkg.scripts.start.endsWith(args.join(" ")), `${pkg.scripts.start} vs ${cmd}`);
});
