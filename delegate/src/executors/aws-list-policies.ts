import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { aws, MAX_FRAME_BYTES } from '@attache/proto';
import { listPolicies } from '../aws/list-policies.js';
import type { Executor } from './executor.js';
import { accountSecrets } from './sealed-scope.js';
import { TaskFailure } from './task-failure.js';

/** Room for the Result frame's own fields around the result bytes. */
const FRAME_OVERHEAD_BYTES = 4 * 1024;

/**
 * `aws.listPolicies` ("Add IAM Policies"): the IAM policies an account's credentials can see,
 * listed from where the delegate runs with the same credentials a validation uses.
 */
export const awsListPoliciesExecutor: Executor = {
  type: 'aws.listPolicies',
  async run(payload, ctx) {
    let decoded: aws.ListPoliciesPayload;
    try {
      decoded = fromBinary(aws.ListPoliciesPayloadSchema, payload);
    } catch (error) {
      throw new TaskFailure('INVALID_PAYLOAD', 'The aws.listPolicies payload is not a valid ListPoliciesPayload message.', {}, { cause: error });
    }
    const log = ctx.log.child({ taskType: 'aws.listPolicies', accountId: decoded.account?.accountId });
    const result = await listPolicies(decoded, {
      taskId: ctx.taskId,
      deadline: ctx.deadline,
      signal: ctx.signal,
      log,
      endpoints: ctx.policy.endpoints,
      registerSecret: accountSecrets(ctx, decoded.account?.accountId ?? ''),
    });
    const bytes = toBinary(aws.ListPoliciesResultSchema, result);
    // An oversized frame would be refused by the carrier and look like a lost delegate; say why instead.
    if (bytes.length > MAX_FRAME_BYTES - FRAME_OVERHEAD_BYTES) {
      throw new TaskFailure(
        'RESULT_TOO_LARGE',
        `The account has ${result.policies.length} policies in this listing, more than one answer can carry; narrow it with a scope (AWS or Local) or a path prefix.`,
        { policies: result.policies.length, bytes: bytes.length },
      );
    }
    return bytes;
  },
};
