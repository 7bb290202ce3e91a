import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { aws } from '@attache/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer, type MotoUserKeys } from '../../../e2e/src/support/moto.js';
import { awsListPoliciesExecutor } from '../executors/aws-list-policies.js';
import type { ExecutionContext } from '../executors/executor.js';
import { TaskFailure } from '../executors/task-failure.js';
import { DelegatePolicy } from '../policy/delegate-policy.js';
import { parseOriginPatterns } from '../policy/origin-pattern.js';

const silent = pino({ level: 'silent' });
let moto: MotoServer;
let ids: MotoIdentities;

beforeAll(async () => {
  moto = await startMoto();
  ids = await setupAwsIdentities(moto.endpoint, { namePrefix: 'lp' });
  await moto.enforceAuth();
});

afterAll(async () => {
  await moto?.stop();
});

let refs = 0;
function staticAuth(keys: Pick<MotoUserKeys, 'accessKeyId' | 'secretAccessKey'>) {
  const n = ++refs;
  process.env[`LP_ACCESS_KEY_ID_${n}`] = keys.accessKeyId;
  process.env[`LP_SECRET_${n}`] = keys.secretAccessKey;
  return { accessKeyIdRef: `env:LP_ACCESS_KEY_ID_${n}`, secretAccessKeyRef: `env:LP_SECRET_${n}` };
}

function payload(auth: MessageInitShape<typeof aws.AwsAuthSchema>['kind'], scope = aws.PolicyScope.AWS): Uint8Array {
  return toBinary(
    aws.ListPoliciesPayloadSchema,
    create(aws.ListPoliciesPayloadSchema, {
      account: { accountId: 'acc_test', partition: 'aws', auth: { kind: auth }, endpoints: { sts: moto.endpoint, iam: moto.endpoint } },
      scope,
    }),
  );
}

/** A delegate installed for these tests: their variables, and moto as an allowed endpoint. */
function testPolicy(): DelegatePolicy {
  const parsed = parseOriginPatterns(moto.endpoint);
  if ('errors' in parsed) throw new Error(parsed.errors.join('; '));
  return new DelegatePolicy({ allowRefs: ['env:LP_*'], allowEndpoints: parsed.origins });
}

function context(signal = new AbortController().signal, policy = testPolicy()): ExecutionContext {
  return { taskId: 'tsk_listpolicies', attempt: 1, deadline: new Date(Date.now() + 60_000), signal, log: silent, registerSecret: () => undefined, policy };
}

async function failure(run: Promise<unknown>): Promise<TaskFailure> {
  const error = await run.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(TaskFailure);
  return error as TaskFailure;
}

// None of the standard identities may call iam:ListPolicies, so these are the denial and abort
// paths; listing across pages is exercised end to end (e2e/src/aws-policies.test.ts).
describe('aws.listPolicies executor against moto_server with auth enforced', () => {
  it('refuses an IAM endpoint override the policy does not allow, before any call', async () => {
    const error = await failure(awsListPoliciesExecutor.run(payload({ case: 'static', value: staticAuth(ids.validUser) }), context(undefined, new DelegatePolicy({ allowRefs: ['env:LP_*'] }))));
    expect(error.code).toBe('ENDPOINT_NOT_ALLOWED');
    expect(error.details).toMatchObject({ endpoint: moto.endpoint, setting: 'ATTACHE_ALLOW_ENDPOINTS', field: 'endpoints.sts' });
  });

  it('a user without iam:ListPolicies is MISSING_PERMISSION naming the action', async () => {
    const error = await failure(awsListPoliciesExecutor.run(payload({ case: 'static', value: staticAuth(ids.validUser) }), context()));
    expect(error.code).toBe('MISSING_PERMISSION');
    expect(error.message).toContain('iam:ListPolicies');
    expect(error.details).toMatchObject({ step: 'iam:ListPolicies', action: 'iam:ListPolicies', awsErrorCode: 'AccessDenied', endpoint: moto.endpoint });
  });

  it('through an assumed role the denial names the role', async () => {
    const error = await failure(
      awsListPoliciesExecutor.run(
        payload({
          case: 'assumeRole',
          value: { roleArn: ids.role.roleArn, externalId: ids.role.externalId, source: { kind: { case: 'static', value: staticAuth(ids.roleSourceUser) } } },
        }),
        context(),
      ),
    );
    expect(error.code).toBe('MISSING_PERMISSION');
    expect(error.message).toContain(ids.role.roleArn);
  });

  it('stops when the task is cancelled', async () => {
    const controller = new AbortController();
    controller.abort(new DOMException('cancelled', 'AbortError'));
    const error = await failure(awsListPoliciesExecutor.run(payload({ case: 'static', value: staticAuth(ids.validUser) }), context(controller.signal)));
    expect(error.code).toBe('CANCELLED');
  });

  it('a payload without an account is INVALID_PAYLOAD', async () => {
    const bytes = toBinary(aws.ListPoliciesPayloadSchema, create(aws.ListPoliciesPayloadSchema, {}));
    expect((await failure(awsListPoliciesExecutor.run(bytes, context()))).code).toBe('INVALID_PAYLOAD');
    expect(fromBinary(aws.ListPoliciesPayloadSchema, bytes).account).toBeUndefined();
  });
});
