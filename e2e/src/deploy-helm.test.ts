import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { HELM, HELM_VERSION, findObject, helmTemplate, runTool, type K8sObject } from './support/deploy-tools.js';
import { schemaProblems } from './support/k8s-schema.js';
import { freePort } from './support/ports.js';
import { Proc } from './support/process.js';
import { REPO_ROOT } from './support/cluster.js';

/**
 * The Helm charts under deploy/helm, with the real helm (pinned in scripts/test-tools.env): lint,
 * render with the value sets in each chart's ci/ folder, validate every rendered object against its
 * API schema, check that what a user sets reaches the pods, and run the real delegate and control
 * plane with what the charts render (environment, probe paths and ports).
 */
const DELEGATE_SETS = ['defaults', 'irsa', 'pod-identity', 'proxy-ca', 'keda', 'keda-metrics-api', 'hpa'];
const CONTROL_PLANE_SETS = ['defaults', 'ingress-servicemonitor'];

const values = (set: string) => `ci/${set}-values.yaml`;
const container = (deployment: K8sObject) => deployment.spec.template.spec.containers[0];
const envOf = (deployment: K8sObject): Record<string, any> =>
  Object.fromEntries(container(deployment).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

/** The hardening every pod of both charts carries. */
function expectHardened(deployment: K8sObject) {
  const pod = deployment.spec.template.spec;
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
  expect(pod.automountServiceAccountToken).toBe(false);
  for (const c of pod.containers) {
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    // A read-only root still needs a writable /tmp.
    expect(c.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/tmp' }));
  }
}

describe(`Helm charts with helm ${HELM_VERSION}`, () => {
  it('helm is the pinned release', async () => {
    const v = await runTool(HELM, ['version', '--template', '{{.Version}}']);
    expect(v.stdout.trim()).toBe(HELM_VERSION);
  });

  it('the schema check rejects what the API server would: a wrongly typed field, a missing required one, an unknown kind', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('defaults')]);
    const deployment = structuredClone(findObject(objects, 'Deployment'));
    container(deployment).ports[0].containerPort = 'health';
    delete deployment.spec.selector;
    expect(schemaProblems(deployment).join('\n')).toMatch(/containerPort must be integer|must have required property 'selector'/);
    const pdb = structuredClone(findObject(objects, 'PodDisruptionBudget'));
    pdb.spec.selector = 'everything';
    expect(schemaProblems(pdb)).toHaveLength(1);
    expect(schemaProblems({ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: { name: 'x' } })[0]).toMatch(/no schema/);
  });

  for (const [chart, sets] of [
    ['attache-delegate', DELEGATE_SETS],
    ['attache-control-plane', CONTROL_PLANE_SETS],
  ] as const) {
    it.each(sets)(`${chart}: helm lint --strict with ci/%s-values.yaml`, async (set) => {
      const lint = await runTool(HELM, ['lint', '--strict', join(REPO_ROOT, 'deploy/helm', chart), '-f', join(REPO_ROOT, 'deploy/helm', chart, values(set))]);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    });

    it.each(sets)(`${chart}: every object rendered with ci/%s-values.yaml matches its API schema`, async (set) => {
      const r = await helmTemplate(chart, [values(set)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.objects.length).toBeGreaterThan(3);
      expect(r.objects.flatMap(schemaProblems)).toEqual([]);
      expectHardened(findObject(r.objects, 'Deployment'));
    });
  }
});

describe('attache-delegate chart: what the user sets reaches the Deployment', () => {
  it('IRSA: tags, policy, role annotation, token Secret, probes on the health port, grace above the drain', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('irsa')]);
    const deployment = findObject(objects, 'Deployment');
    const env = envOf(deployment);
    expect(env['ATTACHE_DELEGATE_NAME']).toBe('eks-prod');
    expect(env['ATTACHE_TAGS']).toBe('aws,prod,eks');
    expect(env['ATTACHE_URL']).toBe('grpcs://attache.example.com:443,wss://attache.example.com');
    expect(env['ATTACHE_ALLOW_REFS']).toBe('env:AWS_*,file:/var/run/secrets/attache/*');
    expect(env['ATTACHE_ALLOW_ENDPOINTS']).toBe('https://vpce-0abc1234-sts.sts.us-east-1.vpce.amazonaws.com');
    expect(env['ATTACHE_TOKEN']).toEqual({ secretKeyRef: { name: 'attache-delegate-token', key: 'token' } });
    expect(env['AWS_REGION']).toBe('us-east-1');
    // The existing Secret is used as it is: the chart makes none.
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);

    const sa = findObject(objects, 'ServiceAccount');
    expect(sa.metadata.annotations?.['eks.amazonaws.com/role-arn']).toBe('arn:aws:iam::123456789012:role/attache-delegate');
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);

    // Both probes ask the health server on the port ATTACHE_HEALTH_ADDR names.
    const c = container(deployment);
    const healthPort = Number(String(env['ATTACHE_HEALTH_ADDR']).split(':')[1]);
    const portByName = Object.fromEntries(c.ports.map((p: any) => [p.name, p.containerPort]));
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      expect(portByName[probe.httpGet.port]).toBe(healthPort);
      expect(probe.httpGet.path).toBe('/healthz');
    }
    expect(Number(env['ATTACHE_DRAIN_GRACE_SECONDS'])).toBe(60);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(60);

    // The group key Secret becomes ATTACHE_KEY_FILE inside its mount; file: references have theirs.
    expect(env['ATTACHE_KEY_FILE']).toBe('/etc/attache/keys/key.pem');
    expect(c.volumeMounts).toContainEqual({ name: 'group-key', mountPath: '/etc/attache/keys', readOnly: true });
    expect(c.volumeMounts).toContainEqual({ name: 'aws-secrets', mountPath: '/var/run/secrets/attache', readOnly: true });

    // Egress only: no ingress rule, DNS and the configured egress allowed.
    const policy = findObject(objects, 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([]);
    expect(policy.spec.egress[0].ports).toContainEqual({ port: 53, protocol: 'UDP' });
    expect(policy.spec.egress[1].ports).toContainEqual({ port: 443, protocol: 'TCP' });
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
  });

  it('defaults: a Secret from the token value, the release name as group, a state dir, replicas and a PDB', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('defaults')]);
    const deployment = findObject(objects, 'Deployment');
    const env = envOf(deployment);
    const secret = findObject(objects, 'Secret');
    expect(env['ATTACHE_TOKEN']).toEqual({ secretKeyRef: { name: secret.metadata.name, key: 'token' } });
    expect(decode(secret.data!['token']!)).toBe('atd_example_token_for_rendering_only');
    expect(env['ATTACHE_DELEGATE_NAME']).toBe('rel');
    expect(env['ATTACHE_TAGS']).toBeUndefined();
    expect(env['ATTACHE_STATE_DIR']).toBe('/var/lib/attache');
    expect(container(deployment).volumeMounts).toContainEqual({ name: 'state', mountPath: '/var/lib/attache' });
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(45);
    expect(findObject(objects, 'PodDisruptionBudget').spec).toMatchObject({ maxUnavailable: 1, selector: deployment.spec.selector });
    expect(objects.map((o) => o.kind)).not.toContain('NetworkPolicy');
  });

  it('Pod Identity: a fixed service account name without annotations, and egress to the Pod Identity Agent', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('pod-identity')]);
    const sa = findObject(objects, 'ServiceAccount');
    expect(sa.metadata.name).toBe('attache-delegate');
    expect(sa.metadata.annotations).toBeUndefined();
    expect(findObject(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe('attache-delegate');
    expect(findObject(objects, 'NetworkPolicy').spec.egress).toContainEqual({
      to: [{ ipBlock: { cidr: '169.254.170.23/32' } }],
      ports: [{ port: 80, protocol: 'TCP' }],
    });
  });

  it('proxy and CA: both spellings of the proxy variables, and the CA bundle mounted where ATTACHE_CA_FILE points', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('proxy-ca')]);
    const deployment = findObject(objects, 'Deployment');
    const env = envOf(deployment);
    expect(env['HTTPS_PROXY']).toBe('http://proxy.internal.example.com:3128');
    expect(env['https_proxy']).toBe('http://proxy.internal.example.com:3128');
    expect(env['NO_PROXY']).toBe('.svc,.cluster.local,169.254.169.254');
    expect(env['no_proxy']).toBe(env['NO_PROXY']);
    const configMap = findObject(objects, 'ConfigMap');
    expect(configMap.data!['ca.crt']).toContain('-----BEGIN CERTIFICATE-----');
    const caVolume = deployment.spec.template.spec.volumes.find((v: any) => v.name === 'ca');
    expect(caVolume.configMap.name).toBe(configMap.metadata.name);
    const mount = container(deployment).volumeMounts.find((m: any) => m.name === 'ca');
    expect(env['ATTACHE_CA_FILE']).toBe(`${mount.mountPath}/ca.crt`);
  });

  it('KEDA: a ScaledObject on the Deployment with the queue-depth query, and no fixed replica count', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('keda')]);
    const deployment = findObject(objects, 'Deployment');
    expect(deployment.spec.replicas).toBeUndefined();
    const scaled = findObject(objects, 'ScaledObject');
    expect(scaled.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(scaled.spec).toMatchObject({ minReplicaCount: 1, maxReplicaCount: 30 });
    expect(scaled.spec.triggers).toEqual([
      { type: 'prometheus', metadata: { serverAddress: 'http://prometheus-operated.monitoring.svc:9090', query: 'sum(attache_queue_depth)', threshold: '10' } },
    ]);

    const api = await helmTemplate('attache-delegate', [values('keda-metrics-api')]);
    const trigger = findObject(api.objects, 'ScaledObject').spec.triggers[0];
    expect(trigger).toMatchObject({ type: 'metrics-api', metadata: { url: 'https://attache.example.com/v1/queue', valueLocation: 'queued', authMode: 'bearer' } });
    const auth = findObject(api.objects, 'TriggerAuthentication', trigger.authenticationRef.name);
    expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'token', name: 'attache-queue-reader', key: 'apiKey' }]);
  });

  it('HPA: scales the Deployment on CPU', async () => {
    const { objects } = await helmTemplate('attache-delegate', [values('hpa')]);
    const hpa = findObject(objects, 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef.name).toBe(findObject(objects, 'Deployment').metadata.name);
    expect(hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  });

  it('refuses bad values: values.schema.json and the chart say what is wrong, and helm renders nothing', async () => {
    const badTag = await helmTemplate('attache-delegate', [values('defaults')], { tags: ['Prod'] });
    expect(badTag.code).not.toBe(0);
    expect(badTag.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(badTag.stderr).toMatch(/tags\/0/);

    const badRef = await helmTemplate('attache-delegate', [values('defaults')], { policy: { allowRefs: ['secret:aws'] } });
    expect(badRef.code).not.toBe(0);
    expect(badRef.stderr).toMatch(/policy\/allowRefs\/0/);

    const unknown = await helmTemplate('attache-delegate', [values('defaults')], { tokn: 'typo' });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/tokn/);

    const shortGrace = await helmTemplate('attache-delegate', [values('defaults')], { terminationGracePeriodSeconds: 30 });
    expect(shortGrace.code).not.toBe(0);
    expect(shortGrace.stderr).toContain('terminationGracePeriodSeconds (30) must be larger than drainGraceSeconds (30)');

    const noUrl = await helmTemplate('attache-delegate', [], { token: 'atd_x' });
    expect(noUrl.code).not.toBe(0);
    expect(noUrl.stderr).toContain('controlPlane.urls is required');

    const noToken = await helmTemplate('attache-delegate', [], { controlPlane: { urls: ['grpc://cp:7443'] } });
    expect(noToken.stderr).toContain('set existingSecret.name');

    // Scale to zero would fail tasks at once (no delegate connected), not queue them.
    const zero = await helmTemplate('attache-delegate', [values('keda')], { 'autoscaling.keda.minReplicaCount': 0 });
    expect(zero.code).not.toBe(0);
    expect(zero.stderr).toMatch(/minReplicaCount/);

    const both = await helmTemplate('attache-delegate', [values('keda')], { 'autoscaling.hpa.enabled': true });
    expect(both.stderr).toContain('not both');
  });
});

describe('attache-control-plane chart', () => {
  it('defaults: Secrets for the operator key and PostgreSQL, HTTP and gRPC Services, probes, no Ingress', async () => {
    const { objects } = await helmTemplate('attache-control-plane', [values('defaults')]);
    const deployment = findObject(objects, 'Deployment');
    const env = envOf(deployment);
    expect(env['ATTACHE_OPERATOR_KEY']).toEqual({ secretKeyRef: { name: 'attache-operator-key', key: 'operatorKey' } });
    expect(env['ATTACHE_DATABASE_URL']).toEqual({ secretKeyRef: { name: 'attache-database', key: 'url' } });
    expect(env['ATTACHE_REPLICA_ID']).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env['ATTACHE_NATS_URL']).toBeUndefined();
    expect(deployment.spec.replicas).toBe(2);
    const c = container(deployment);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.startupProbe.tcpSocket).toEqual({ port: 'grpc' });

    const services = objects.filter((o) => o.kind === 'Service');
    expect(services.map((s) => [s.metadata.name, s.spec.ports[0].name, s.spec.ports[0].targetPort])).toEqual([
      ['rel-attache-control-plane-http', 'http', 'http'],
      ['rel-attache-control-plane-grpc', 'grpc', 'grpc'],
    ]);
    for (const s of services) expect(s.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(objects.map((o) => o.kind)).not.toContain('Ingress');
  });

  it('ingress + ServiceMonitor: an Ingress per protocol on the right Service port, NATS from its Secret, /metrics scraped', async () => {
    const { objects } = await helmTemplate('attache-control-plane', [values('ingress-servicemonitor')]);
    const services = new Map(objects.filter((o) => o.kind === 'Service').map((s) => [s.metadata.name, s]));
    const ingresses = objects.filter((o) => o.kind === 'Ingress');
    expect(ingresses.map((i) => i.spec.rules[0].host)).toEqual(['attache.example.com', 'grpc.attache.example.com']);
    for (const ingress of ingresses) {
      const backend = ingress.spec.rules[0].http.paths[0].backend.service;
      const service = services.get(backend.name);
      expect(service, backend.name).toBeDefined();
      expect(service!.spec.ports.map((p: any) => p.name)).toContain(backend.port.name);
      expect(ingress.spec.ingressClassName).toBe('alb');
    }
    expect(services.get('rel-attache-control-plane-grpc')!.metadata.annotations?.['alb.ingress.kubernetes.io/backend-protocol-version']).toBe('GRPC');

    const env = envOf(findObject(objects, 'Deployment'));
    expect(env['ATTACHE_NATS_URL']).toEqual({ secretKeyRef: { name: 'attache-nats', key: 'url' } });
    expect(env['ATTACHE_NATS_SIGNING_SEED']).toEqual({ secretKeyRef: { name: 'attache-nats', key: 'signingSeed' } });
    expect(env['ATTACHE_NATS_ACCOUNT']).toEqual({ secretKeyRef: { name: 'attache-nats', key: 'account' } });

    const monitor = findObject(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels?.['release']).toBe('kube-prometheus-stack');
    expect(monitor.spec.endpoints).toEqual([{ port: 'http', path: '/metrics', interval: '30s' }]);
    expect(services.get('rel-attache-control-plane-http')!.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
  });

  it('the gRPC startup probe asks grpc.health.v1 when switched on, and bad values are refused', async () => {
    const grpc = await helmTemplate('attache-control-plane', [values('defaults')], { probes: { startup: { grpc: 'grpc' } } });
    expect(container(findObject(grpc.objects, 'Deployment')).startupProbe.grpc).toEqual({ port: 7443 });
    expect(grpc.objects.flatMap(schemaProblems)).toEqual([]);

    const sqliteReplicas = await helmTemplate('attache-control-plane', [], { operatorKey: { existingSecret: 'k' } });
    expect(sqliteReplicas.stderr).toContain('more than one replica needs database.existingSecret');
    const noKey = await helmTemplate('attache-control-plane', [], { replicaCount: 1 });
    expect(noKey.stderr).toContain('operatorKey.existingSecret is required');
    const badProbe = await helmTemplate('attache-control-plane', [values('defaults')], { probes: { startup: { grpc: 'http' } } });
    expect(badProbe.stderr).toMatch(/probes\/startup\/grpc/);

    const single = await helmTemplate('attache-control-plane', [], { replicaCount: 1, operatorKey: { existingSecret: 'k' }, persistence: { enabled: true } });
    expect(single.code, single.stderr).toBe(0);
    expect(single.objects.flatMap(schemaProblems)).toEqual([]);
    expect(findObject(single.objects, 'Deployment').spec.strategy).toEqual({ type: 'Recreate' });
    expect(findObject(single.objects, 'PersistentVolumeClaim').spec.resources.requests.storage).toBe('1Gi');
  });
});

describe('what the charts render runs: the real delegate and control plane', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let stateDir: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'helm-e2e');
    stateDir = await mkdtemp(join(tmpdir(), 'attache-helm-state-'));
  });
  afterAll(async () => {
    await cp?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('a delegate started with the rendered environment registers with the chart tags, answers its probes, and drains on SIGTERM', async () => {
    const healthPort = await freePort();
    const r = await helmTemplate('attache-delegate', [values('irsa')], {
      health: { port: healthPort },
      groupKey: { existingSecret: '' },
      drainGraceSeconds: 5,
    });
    expect(r.code, r.stderr).toBe(0);
    const deployment = findObject(r.objects, 'Deployment');
    const { token } = await createToken(tenant, 'helm');
    const rendered = envOf(deployment);
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(rendered)) if (typeof value === 'string') env[name] = value;
    // What Kubernetes would provide differently here: the Secret's value, the volume, a loopback
    // address instead of all interfaces, and a control plane that exists.
    env['ATTACHE_TOKEN'] = token;
    env['ATTACHE_STATE_DIR'] = stateDir;
    env['ATTACHE_HEALTH_ADDR'] = env['ATTACHE_HEALTH_ADDR']!.replace('0.0.0.0', '127.0.0.1');
    env['ATTACHE_URL'] = cp.grpcUrl;

    const delegate = Proc.spawn('delegate:helm', [join(REPO_ROOT, 'delegate/dist/cli.js')], env);
    try {
      const [registered] = await waitForDelegates(tenant, 'eks-prod');
      expect(registered.tags).toEqual(expect.arrayContaining(['aws', 'prod', 'eks']));
      expect(registered.maxConcurrency).toBe(Number(env['ATTACHE_MAX_CONCURRENCY']));
      const c = container(deployment);
      for (const probe of [c.livenessProbe, c.readinessProbe]) {
        const port = c.ports.find((p: any) => p.name === probe.httpGet.port).containerPort;
        const res = await fetch(`http://127.0.0.1:${port}${probe.httpGet.path}`);
        expect(res.status).toBe(200);
      }
      const started = Date.now();
      delegate.kill('SIGTERM');
      const exit = await delegate.exited;
      expect(exit.code).toBe(0);
      expect((Date.now() - started) / 1000).toBeLessThan(deployment.spec.template.spec.terminationGracePeriodSeconds);
    } finally {
      await delegate.stop();
    }
  });

  it("the control plane answers the chart's probes, and serves the queue signals the KEDA triggers read", async () => {
    const { objects } = await helmTemplate('attache-control-plane', [values('defaults')]);
    const c = container(findObject(objects, 'Deployment'));
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      const res = await fetch(`${cp.httpUrl}${probe.httpGet.path}`);
      expect(res.status, probe.httpGet.path).toBe(200);
    }
    // The startup probe's TCP check on the gRPC carrier port.
    const grpcPort = Number(new URL(cp.grpcUrl).port);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(grpcPort, '127.0.0.1', () => {
        socket.end();
        resolve();
      });
      socket.once('error', reject);
    });

    const keda = await helmTemplate('attache-delegate', [values('keda')]);
    const query = findObject(keda.objects, 'ScaledObject').spec.triggers[0].metadata.query as string;
    const metric = /attache_[a-z_]+/.exec(query)![0];
    const metrics = await (await fetch(`${cp.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^${metric} \\d+$`, 'm'));

    const api = await helmTemplate('attache-delegate', [values('keda-metrics-api')]);
    const location = findObject(api.objects, 'ScaledObject').spec.triggers[0].metadata.valueLocation as string;
    const queue = await tenant.api.get('/v1/queue');
    expect(queue.status).toBe(200);
    expect(typeof queue.body[location]).toBe('number');
  });
});
