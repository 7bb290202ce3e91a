import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createTenant, createToken, REPO_ROOT, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { CFN_LINT, CFN_LINT_VERSION, runTool } from './support/deploy-tools.js';
import { startMotoWithIdentities, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';

const TEMPLATE_FILE = join(REPO_ROOT, 'deploy/aws/validation-role.yaml');

/** The template without the values the API fills in for a tenant, for comparing with the file. */
function withoutDefaults(template: any, names: string[]) {
  const copy = structuredClone(template);
  for (const name of names) delete copy.Parameters[name].Default;
  return copy;
}

/**
 * The validation role as CloudFormation: deploy/aws/validation-role.yaml linted by the real cfn-lint,
 * and GET /v1/aws/role-setup?format=cloudformation from a real control plane — the same template
 * with the tenant's external ID and the delegates' reported identity as defaults — linted too.
 */
describe(`CloudFormation template for the validation role (cfn-lint ${CFN_LINT_VERSION})`, () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc;
  let dir: string;

  const lint = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return runTool(CFN_LINT, ['--format', 'parseable', '--', file]);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-cfn-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'cfn-e2e');
    ({ moto, identities: ids } = await startMotoWithIdentities({ externalId: tenant.externalId, namePrefix: 'cfn' }));
    const { token } = await createToken(tenant, 'cfn');
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token,
      name: 'vpc-cfn',
      tags: ['aws'],
      env: {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
      },
    });
  }, 180_000);

  afterAll(async () => {
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('cfn-lint finds nothing in deploy/aws/validation-role.yaml, and does find a broken copy', async () => {
    const version = await runTool(CFN_LINT, ['--version']);
    expect(version.stdout.trim()).toBe(`cfn-lint ${CFN_LINT_VERSION}`);

    // One run for both files (cfn-lint takes seconds to load its specifications); parseable lines start with the file.
    const broken = join(dir, 'broken.yaml');
    const text = await readFile(TEMPLATE_FILE, 'utf8');
    await writeFile(broken, text.replace('Ref: TrustedPrincipalArns', 'Ref: TrustedPrincipalArn'));
    const result = await runTool(CFN_LINT, ['--format', 'parseable', '--', TEMPLATE_FILE, broken]);
    const findings = result.stdout.split('\n').filter((l) => l !== '');
    expect(result.code).not.toBe(0);
    expect(findings.filter((l) => l.startsWith(TEMPLATE_FILE))).toEqual([]);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((l) => l.startsWith(broken))).toBe(true);
    expect(findings.join('\n')).toMatch(/TrustedPrincipalArn\b/);
  });

  it('the file has the role-setup permission policy, the external ID condition, an optional boundary and the role ARN output', async () => {
    const file = parse(await readFile(TEMPLATE_FILE, 'utf8'));
    const json = await tenant.api.get('/v1/aws/role-setup');
    expect(json.status, json.text).toBe(200);
    const role = file.Resources.ValidationRole;
    expect(role.Type).toBe('AWS::IAM::Role');
    expect(role.Properties.Policies[0].PolicyDocument).toEqual(json.body.permissionPolicy);
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0]).toEqual({
      Effect: 'Allow',
      Principal: { AWS: { Ref: 'TrustedPrincipalArns' } },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
    });
    expect(role.Properties.PermissionsBoundary).toEqual({ 'Fn::If': ['HasPermissionsBoundary', { Ref: 'PermissionsBoundaryArn' }, { Ref: 'AWS::NoValue' }] });
    expect(role.Properties.RoleName).toEqual({ Ref: 'RoleName' });
    expect(role.Properties.Path).toEqual({ Ref: 'RolePath' });
    expect(Object.keys(file.Parameters)).toEqual(['TrustedPrincipalArns', 'ExternalId', 'RoleName', 'RolePath', 'PermissionsBoundaryArn', 'MaxSessionDuration']);
    // The file is for any tenant: nothing of one tenant's in it.
    expect(file.Parameters.ExternalId.Default).toBeUndefined();
    expect(file.Parameters.TrustedPrincipalArns.Default).toBeUndefined();
    expect(file.Outputs.RoleArn.Value).toEqual({ 'Fn::GetAtt': ['ValidationRole', 'Arn'] });
  });

  it('the API serves the same template as YAML with the tenant external ID; the principal waits for a report', async () => {
    const res = await fetch(`${cp.httpUrl}/v1/aws/role-setup?format=cloudformation&selectors=aws`, { headers: { authorization: `Bearer ${tenant.api.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/yaml/);
    const text = await res.text();
    const served = parse(text);
    expect(served.Parameters.ExternalId.Default).toBe(tenant.externalId);
    // No delegate has reported who it runs as: the admin fills the principal in.
    expect(served.Parameters.TrustedPrincipalArns.Default).toBeUndefined();
    const file = parse(await readFile(TEMPLATE_FILE, 'utf8'));
    expect(withoutDefaults(served, ['ExternalId']), 'deploy/aws/validation-role.yaml is stale: npm run build && node deploy/aws/write-template.mjs').toEqual(file);

    const linted = await lint('served-placeholder.yaml', text);
    expect(linted.stdout + linted.stderr).toBe('');
    expect(linted.code).toBe(0);
  });

  it('after a validation on the delegate chain, the served template trusts the identity the delegates reported', async () => {
    const account = await tenant.api.post('/v1/aws/accounts', { name: 'own-chain', partition: 'aws', auth: { type: 'delegate' }, delegateSelectors: ['aws'] });
    expect(account.status, account.text).toBe(201);
    const validated = await tenant.api.post(`/v1/aws/accounts/${account.body.id}/validate?waitSeconds=30`);
    expect(validated.body.account?.status, validated.text).toBe('valid');

    const res = await fetch(`${cp.httpUrl}/v1/aws/role-setup?format=cloudformation&selectors=aws`, { headers: { authorization: `Bearer ${tenant.api.key}` } });
    const text = await res.text();
    const served = parse(text);
    expect(served.Parameters.TrustedPrincipalArns.Default).toBe(ids.validUser.arn);
    expect(served.Parameters.ExternalId.Default).toBe(tenant.externalId);
    expect(withoutDefaults(served, ['ExternalId', 'TrustedPrincipalArns'])).toEqual(parse(await readFile(TEMPLATE_FILE, 'utf8')));
    const linted = await lint('served-reported.yaml', text);
    expect(linted.stdout + linted.stderr).toBe('');
    expect(linted.code).toBe(0);

    // JSON stays the default answer; an unknown format is a 400 naming the choices.
    const json = await tenant.api.get('/v1/aws/role-setup?selectors=aws&format=json');
    expect(json.body.trustedPrincipalArns).toEqual([ids.validUser.arn]);
    const bad = await tenant.api.get('/v1/aws/role-setup?format=terraform');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.message).toMatch(/format/);
  });
});
