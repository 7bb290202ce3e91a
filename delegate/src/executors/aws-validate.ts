import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { aws } from '@attache/proto';
import { validateAccount } from '../aws/validate.js';
import type { Executor } from './executor.js';
import { accountSecrets } from './sealed-scope.js';
import { TaskFailure } from './task-failure.js';

/**
 * `aws.validate`: proves that an account's credentials work from where the delegate runs and
 * reports who they are. Secret references are resolved here, never on the control plane.
 */
export const awsValidateExecutor: Executor = {
  type: 'aws.validate',
  async run(payload, ctx) {
    let decoded: aws.ValidateAccountPayload;
    try {
      decoded = fromBinary(aws.ValidateAccountPayloadSchema, payload);
    } catch (error) {
      throw new TaskFailure('INVALID_PAYLOAD', 'The aws.validate payload is not a valid ValidateAccountPayload message.', {}, { cause: error });
    }
    const log = ctx.log.child({ taskType: 'aws.validate', accountId: decoded.accountId });
    const result = await validateAccount(decoded, {
      taskId: ctx.taskId,
      deadline: ctx.deadline,
      signal: ctx.signal,
      log,
      endpoints: ctx.policy.endpoints,
      registerSecret: accountSecrets(ctx, decoded.accountId),
    });
    return toBinary(aws.ValidateAccountResultSchema, result);
  },
};
