import type { ActorRecord } from '../store/audit-records.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { AwsAccountRecord, ListPage, Store, TaskRecord } from '../store/store.js';
import { StoreConflictError } from '../store/store-errors.js';
import { normaliseTags } from '../tasks/eligibility.js';
import type { TaskService } from '../tasks/task-service.js';
import { mergedAccountCheck, type CreateAccount, type PatchAccount } from './account-schema.js';
import { caBundleOf, endpointOverrides, storedConnection } from './connection.js';
import { PARTITIONS } from './partitions.js';
import { sealedUses } from '../security/sealed-refs.js';
import { accountSelectors } from './routing.js';
import { validationPayload } from './validation-payload.js';

/** Tenant AWS accounts: descriptions stored here, validation run on a delegate. */
export class AccountService {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
  ) {}

  async create(tenantId: string, input: CreateAccount): Promise<AwsAccountRecord> {
    const sealed = sealedUses(input.auth, 'auth');
    if (sealed.length > 0 && input.id === undefined) {
      // A generated id cannot be in the value's associated data, so the value could never open.
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `${sealed.map((u) => u.path).join(', ')}: a sealed value is bound to its account id; choose the id first (attache-delegate new-account-id), seal with --account <id>, and send that "id" with the account.`,
        { field: 'id' },
      );
    }
    const now = new Date();
    const account: AwsAccountRecord = {
      id: input.id ?? newId('acc'),
      tenantId,
      name: input.name,
      description: input.description ?? '',
      partition: input.partition,
      auth: input.auth as Record<string, unknown>,
      testRegion: input.testRegion ?? PARTITIONS[input.partition].defaultRegion,
      delegateSelectors: normaliseTags(input.delegateSelectors ?? []),
      endpoints: storedConnection(input.endpoints ?? {}, input.caBundle),
      gateway: input.gateway ?? null,
      policyArns: [],
      status: 'unvalidated',
      lastTaskId: null,
      lastCheckedAt: null,
      awsAccountId: null,
      arn: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.store.createAccount(account);
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new AppError(ErrorCode.CONFLICT, `An AWS account named "${input.name}"${input.id ? ` or with id ${input.id}` : ''} already exists in this tenant; choose another name.`, { field: 'name' });
      }
      throw err;
    }
    return account;
  }

  async get(tenantId: string, id: string): Promise<AwsAccountRecord> {
    const account = await this.store.getAccount(tenantId, id);
    if (!account) throw notFound('AWS account', id);
    return account;
  }

  list(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]> {
    return this.store.listAccounts(tenantId, page);
  }

  async update(tenantId: string, id: string, patch: PatchAccount): Promise<AwsAccountRecord> {
    const current = await this.get(tenantId, id);
    const partition = patch.partition ?? current.partition;
    // Changing the partition without a region moves the test region to the new partition's default.
    const testRegion = patch.testRegion ?? (patch.partition && patch.partition !== current.partition ? PARTITIONS[patch.partition].defaultRegion : current.testRegion);
    const caBundle = patch.caBundle ?? caBundleOf(current.endpoints);
    const merged = mergedAccountCheck.safeParse({ partition, testRegion, auth: patch.auth ?? current.auth, caBundle });
    if (!merged.success) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, merged.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), {
        issues: merged.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    try {
      const updated = await this.store.updateAccount(
        tenantId,
        id,
        {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...(patch.partition !== undefined ? { partition: patch.partition } : {}),
          ...(patch.auth !== undefined ? { auth: patch.auth as Record<string, unknown> } : {}),
          testRegion,
          ...(patch.delegateSelectors !== undefined ? { delegateSelectors: normaliseTags(patch.delegateSelectors) } : {}),
          ...(patch.gateway !== undefined ? { gateway: patch.gateway } : {}),
          ...(patch.endpoints !== undefined || patch.caBundle !== undefined
            ? { endpoints: storedConnection(patch.endpoints ?? endpointOverrides(current.endpoints), caBundle) }
            : {}),
        },
        new Date(),
      );
      if (!updated) throw notFound('AWS account', id);
      return updated;
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new AppError(ErrorCode.CONFLICT, `An AWS account named "${patch.name}" already exists in this tenant; choose another name.`, { field: 'name' });
      }
      throw err;
    }
  }

  async delete(tenantId: string, id: string): Promise<void> {
    if (!(await this.store.deleteAccount(tenantId, id))) throw notFound('AWS account', id);
  }

  /** Queues aws.validate on a delegate matching the account's selectors; optionally waits for it. */
  async validate(tenantId: string, id: string, waitSeconds: number, requestedBy?: ActorRecord): Promise<{ account: AwsAccountRecord; task: TaskRecord }> {
    const account = await this.get(tenantId, id);
    const tenant = await this.store.getTenant(tenantId);
    if (!tenant) throw notFound('tenant', tenantId);
    const task = await this.tasks.create(
      tenantId,
      {
        type: 'aws.validate',
        payload: validationPayload(account, tenant.externalId),
        selectors: accountSelectors(account),
        accountId: account.id,
      },
      { internal: true, requestedBy, beforeInsert: (t) => this.store.startValidation(tenantId, id, t.id, new Date()).then(() => undefined) },
    );
    const finished = await this.tasks.getAfterWait(tenantId, task.id, waitSeconds);
    return { account: await this.get(tenantId, id), task: finished };
  }
}
