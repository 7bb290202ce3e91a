import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateUserCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';

/** More customer managed policies than one iam:ListPolicies page (100) holds. */
const LOCAL_POLICIES = 105;
const LOCAL_PATH = '/attache-e2e/';

/**
 * "Add IAM Policies" and role setup for real: API → control plane → gRPC → delegate →
 * iam:ListPolicies on moto_server with authentication enforced, so the permission error is IAM's
 * own answer, not a simulation.
 */
describe('IAM policies and role setup end to end against moto_server with auth enforced', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let lister: { arn: string; accessKeyId: string; secretAccessKey: string };
  let delegate: Proc;

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'policies-e2e');
    // moto leaves out AWS managed policies unless asked; with them, scope=AWS lists about a thousand.
    moto = await startMoto({ env: { MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' } });
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId, namePrefix: 'pol' });
    // Before enforcement moto accepts any signature: provision the lister and the policies to list.
    const iam = new IAMClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' } });
    try {
      const user = await iam.send(new CreateUserCommand({ UserName: 'pol-lister' }));
      const policy = await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'pol-lister-policy',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: ['sts:GetCallerIdentity', 'ec2:DescribeRegions', 'iam:ListPolicies'], Resource: '*' }],
          }),
        }),
      );
      await iam.send(new AttachUserPolicyCommand({ UserName: 'pol-lister', PolicyArn: policy.Policy!.Arn! }));
      const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'pol-lister' }));
      lister = { arn: user.User!.Arn!, accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
      for (let i = 0; i < LOCAL_POLICIES; i++) {
        await iam.send(
          new CreatePolicyCommand({
            PolicyName: `e2e-policy-${String(i).padStart(3, '0')}`,
            Path: LOCAL_PATH,
            PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }] }),
          }),
        );
      }
    } finally {
      iam.destroy();
    }
    await moto.enforceAuth();

    const { token } = await createToken(tenant, 'aws');
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token,
      name: 'vpc-east',
      tags: ['aws'],
      env: {
        ATTACHE_ALLOW_REFS: 'env:LISTER_*,env:VALID_*',
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        // The delegate's own chain: the valid user, which may validate but not list policies.
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        LISTER_ACCESS_KEY_ID: lister.accessKeyId,
        LISTER_SECRET: lister.secretAccessKey,
        VALID_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        VALID_SECRET: ids.validUser.secretAccessKey,
      },
    });
  }, 180_000);

  afterAll(async () => {
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
  });

  const account = async (name: string, auth: Record<string, unknown>) => {
    const res = await tenant.api.post('/v1/aws/accounts', { name, partition: 'aws', auth, delegateSelectors: ['aws'] });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  const validate = async (id: string) => {
    const res = await tenant.api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.account.status, JSON.stringify(res.body.task.error)).toBe('valid');
    return res.body;
  };
  const listerAuth = { type: 'static', accessKeyId: 'env:LISTER_ACCESS_KEY_ID', secretAccessKey: 'env:LISTER_SECRET' };

  it('refuses to list before a successful validation, with a 409 that says to validate first', async () => {
    const id = await account('not-yet-validated', listerAuth);
    const res = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=30`);
    expect(res.status, res.text).toBe(409);
    expect(res.body.error.code).toBe('CONFLICT');
    expect(res.body.error.message).toMatch(/validate it first/);
  });

  it('lists customer managed policies across several pages, with path and name filters', async () => {
    const id = await account('lister', listerAuth);
    await validate(id);

    const local = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=60&scope=Local&pathPrefix=${encodeURIComponent(LOCAL_PATH)}`);
    expect(local.status, local.text).toBe(200);
    expect(local.body.count).toBe(LOCAL_POLICIES);
    expect(local.body.pages).toBeGreaterThanOrEqual(2);
    const names = local.body.policies.map((p: any) => p.name);
    expect(new Set(names).size).toBe(LOCAL_POLICIES);
    expect(names).toContain('e2e-policy-104');
    const first = local.body.policies.find((p: any) => p.name === 'e2e-policy-000');
    expect(first).toMatchObject({
      arn: `arn:aws:iam::${ids.accountId}:policy${LOCAL_PATH}e2e-policy-000`,
      path: LOCAL_PATH,
      defaultVersionId: 'v1',
      attachmentCount: 0,
      isAttachable: true,
    });

    expect(local.body.nextCursor).toBeNull();

    // Pages of one listing: the first call runs it, the cursor reads the same task again (no new listing).
    const paged: any[] = [];
    const seenTasks = new Set<string>();
    let cursor: string | null = null;
    for (let pages = 0; ; pages++) {
      const page: any = await tenant.api.get(
        `/v1/aws/accounts/${id}/available-policies?waitSeconds=60&scope=Local&pathPrefix=${encodeURIComponent(LOCAL_PATH)}&limit=40${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status, page.text).toBe(200);
      expect(page.body.count).toBe(page.body.policies.length);
      expect(page.body.policies.length).toBeLessThanOrEqual(40);
      expect(page.body).toMatchObject({ scope: 'Local', total: LOCAL_POLICIES });
      seenTasks.add(page.body.taskId);
      paged.push(...page.body.policies);
      cursor = page.body.nextCursor;
      if (!cursor) break;
      expect(pages).toBeLessThan(5);
    }
    expect(paged.map((p) => p.arn).sort()).toEqual(local.body.policies.map((p: any) => p.arn).sort());
    expect(new Set(paged.map((p) => p.arn)).size).toBe(LOCAL_POLICIES);
    expect(seenTasks.size).toBe(1);
    expect((await tenant.api.get(`/v1/tasks/${[...seenTasks][0]}`)).body.type).toBe('aws.listPolicies');
    // A cursor is for its own account's listing, and for no other list.
    const firstPage = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=60&scope=Local&pathPrefix=${encodeURIComponent(LOCAL_PATH)}&limit=1`);
    const elsewhere = await account('lister-elsewhere', listerAuth);
    const foreign = await tenant.api.get(`/v1/aws/accounts/${elsewhere}/available-policies?cursor=${firstPage.body.nextCursor}`);
    expect(foreign.status, foreign.text).toBe(400);
    expect(foreign.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [{ path: 'cursor' }] } });
    const accountsPage = await tenant.api.get('/v1/aws/accounts?limit=1');
    expect((await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?cursor=${accountsPage.body.nextCursor}`)).status).toBe(400);

    // nameContains is applied on the control plane, case-insensitively.
    const filtered = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=60&scope=Local&pathPrefix=${encodeURIComponent(LOCAL_PATH)}&nameContains=POLICY-10`);
    expect(filtered.status, filtered.text).toBe(200);
    expect(filtered.body.policies.map((p: any) => p.name).sort()).toEqual(['e2e-policy-100', 'e2e-policy-101', 'e2e-policy-102', 'e2e-policy-103', 'e2e-policy-104']);
    expect(filtered.body.total).toBe(LOCAL_POLICIES);

    // The AWS scope holds AWS managed policies only; "All" holds both.
    const managed = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=60&scope=AWS&nameContains=ReadOnlyAccess`);
    expect(managed.status, managed.text).toBe(200);
    expect(managed.body.policies.map((p: any) => p.arn)).toContain('arn:aws:iam::aws:policy/ReadOnlyAccess');
    expect(managed.body.policies.every((p: any) => p.arn.startsWith('arn:aws:iam::aws:policy/'))).toBe(true);
    expect(managed.body.total).toBeGreaterThan(500);
    expect(managed.body.pages).toBeGreaterThan(5);
    const all = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=60&nameContains=e2e-policy-00`);
    expect(all.status, all.text).toBe(200);
    expect(all.body.count).toBe(10);

    // The account is still valid; the listing touched nothing of its validation.
    expect((await tenant.api.get(`/v1/aws/accounts/${id}`)).body.status).toBe('valid');
  });

  it('a caller without iam:ListPolicies gets MISSING_PERMISSION naming it, and the account stays valid', async () => {
    const id = await account('no-list', { type: 'static', accessKeyId: 'env:VALID_ACCESS_KEY_ID', secretAccessKey: 'env:VALID_SECRET' });
    const validated = await validate(id);
    const res = await tenant.api.get(`/v1/aws/accounts/${id}/available-policies?waitSeconds=30`);
    expect(res.status, res.text).toBe(424);
    expect(res.body.error.code).toBe('MISSING_PERMISSION');
    expect(res.body.error.message).toContain('iam:ListPolicies');
    expect(res.body.error.details).toMatchObject({ action: 'iam:ListPolicies', awsErrorCode: 'AccessDenied' });
    const task = await tenant.api.get(`/v1/tasks/${res.body.error.details.taskId}`);
    expect(task.body).toMatchObject({ type: 'aws.listPolicies', state: 'failed', accountId: id });

    const after = (await tenant.api.get(`/v1/aws/accounts/${id}`)).body;
    expect(after).toMatchObject({ status: 'valid', lastTaskId: validated.task.id, lastError: null });
  });

  it('PUT policies records ARNs of the right form and partition, and GET shows them', async () => {
    const id = await account('chooser', listerAuth);
    await validate(id);
    const chosen = ['arn:aws:iam::aws:policy/ReadOnlyAccess', `arn:aws:iam::${ids.accountId}:policy${LOCAL_PATH}e2e-policy-007`];
    const put = await tenant.api.request('PUT', `/v1/aws/accounts/${id}/policies`, { policyArns: [...chosen, chosen[0]] });
    expect(put.status, put.text).toBe(200);
    expect(put.body.policyArns).toEqual(chosen);
    expect((await tenant.api.get(`/v1/aws/accounts/${id}`)).body.policyArns).toEqual(chosen);

    const gov = await tenant.api.request('PUT', `/v1/aws/accounts/${id}/policies`, { policyArns: ['arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess'] });
    expect(gov.status, gov.text).toBe(400);
    expect(gov.body.error.message).toMatch(/partition aws-us-gov, but the account is in aws/);

    const malformed = await tenant.api.request('PUT', `/v1/aws/accounts/${id}/policies`, {
      policyArns: ['arn:aws:iam::123:policy/Short', 'arn:aws:iam::aws:role/NotAPolicy', 'ReadOnlyAccess'],
    });
    expect(malformed.status, malformed.text).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_FAILED');
    expect(malformed.body.error.details.issues).toHaveLength(3);
    expect(malformed.body.error.message).toMatch(/is not an IAM policy ARN/);

    const otherAccount = await tenant.api.request('PUT', `/v1/aws/accounts/${id}/policies`, { policyArns: ['arn:aws:iam::999999999999:policy/Elsewhere'] });
    expect(otherAccount.status, otherAccount.text).toBe(400);
    expect(otherAccount.body.error.message).toMatch(/belongs to AWS account 999999999999/);

    // A refused PUT changes nothing; an empty list clears the choice.
    expect((await tenant.api.get(`/v1/aws/accounts/${id}`)).body.policyArns).toEqual(chosen);
    const cleared = await tenant.api.request('PUT', `/v1/aws/accounts/${id}/policies`, { policyArns: [] });
    expect(cleared.body.policyArns).toEqual([]);
  });

  it('role setup: external ID, permission policy, and the trust principal the delegates reported (placeholder before)', async () => {
    const before = await tenant.api.get('/v1/aws/role-setup?selectors=aws');
    expect(before.status, before.text).toBe(200);
    expect(before.body).toMatchObject({ externalId: tenant.externalId, partition: 'aws', principalIsPlaceholder: true });
    expect(before.body.delegateGroups).toEqual([{ group: 'vpc-east', identityArn: null, reportedAt: null }]);
    const placeholderStatement = before.body.trustPolicy.Statement[0];
    expect(placeholderStatement.Principal.AWS).toBe('arn:aws:iam::<DELEGATE_ACCOUNT_ID>:role/<DELEGATE_ROLE_NAME>');
    expect(placeholderStatement).toMatchObject({ Effect: 'Allow', Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': tenant.externalId } } });
    expect(before.body.permissionPolicy.Statement[0].Action).toEqual(['sts:GetCallerIdentity', 'ec2:DescribeRegions', 'iam:ListPolicies']);
    expect(before.body.notes.join(' ')).toMatch(/sts:AssumeRole/);

    // Validating with the delegate's own chain reports who the vpc-east delegates run as.
    await validate(await account('own-chain', { type: 'delegate' }));
    const after = await tenant.api.get('/v1/aws/role-setup?selectors=aws');
    expect(after.body.principalIsPlaceholder).toBe(false);
    expect(after.body.placeholderHelp).toBeUndefined();
    expect(after.body.trustPolicy.Statement[0].Principal.AWS).toBe(ids.validUser.arn);
    expect(after.body.delegateGroups).toEqual([{ group: 'vpc-east', identityArn: ids.validUser.arn, reportedAt: expect.any(String) }]);
    // The same identity is what the gateway listing shows for the group.
    const gateways = await tenant.api.get('/v1/gateways');
    expect(gateways.body.items.find((g: any) => g.name === 'vpc-east').identities).toEqual([
      { partition: 'aws', arn: ids.validUser.arn, awsAccountId: ids.accountId, reportedAt: expect.any(String) },
    ]);

    // Another partition has no report yet; selectors nobody carries choose no group.
    const gov = await tenant.api.get('/v1/aws/role-setup?selectors=aws&partition=aws-us-gov');
    expect(gov.body.trustPolicy.Statement[0].Principal.AWS).toBe('arn:aws-us-gov:iam::<DELEGATE_ACCOUNT_ID>:role/<DELEGATE_ROLE_NAME>');
    const none = await tenant.api.get('/v1/aws/role-setup?selectors=nobody-has-this');
    expect(none.body).toMatchObject({ principalIsPlaceholder: true, delegateGroups: [] });
    const bad = await tenant.api.get('/v1/aws/role-setup?partition=aws-cn');
    expect(bad.status).toBe(400);
  });
});
