import { AppError, ErrorCode, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Role, UserChange, UserPatch, UserRecord, UserStatus } from '../store/identity-records.js';
import type { IdentityStore } from '../store/identity-store.js';
import { StoreConflictError } from '../store/store-errors.js';
import type { PasswordHasher } from './password-hasher.js';

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  password?: string | undefined;
}

export interface UserUpdate {
  name?: string | undefined;
  role?: Role | undefined;
  status?: UserStatus | undefined;
  /** An admin's password reset. */
  password?: string | undefined;
}

/** Emails compare lower-cased everywhere: one spelling per person. */
export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** Users of a tenant. Every change that could remove the last active admin is refused (LAST_ADMIN). */
export class UserService {
  constructor(
    private readonly store: IdentityStore,
    private readonly hasher: PasswordHasher,
  ) {}

  /** The record to insert (also used for a tenant's first admin, created with the tenant). */
  async build(tenantId: string, input: NewUser, now = new Date()): Promise<UserRecord> {
    return {
      id: newId('usr'),
      tenantId,
      email: normaliseEmail(input.email),
      name: input.name,
      role: input.role,
      status: 'active',
      passwordHash: input.password ? await this.hasher.hash(input.password) : null,
      createdAt: now,
      updatedAt: now,
    };
  }

  async create(tenantId: string, input: NewUser): Promise<UserRecord> {
    const user = await this.build(tenantId, input);
    try {
      await this.store.createUser(user);
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new AppError(ErrorCode.CONFLICT, `A user with email "${user.email}" already exists in this tenant.`, { field: 'email' });
      }
      throw err;
    }
    return user;
  }

  list(tenantId: string): Promise<UserRecord[]> {
    return this.store.listUsers(tenantId);
  }

  async get(tenantId: string, id: string): Promise<UserRecord> {
    const user = await this.store.getUser(tenantId, id);
    if (!user) throw notFound('user', id);
    return user;
  }

  async update(tenantId: string, id: string, input: UserUpdate): Promise<UserRecord> {
    const patch: UserPatch = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.role !== undefined) patch.role = input.role;
    if (input.status !== undefined) patch.status = input.status;
    if (input.password !== undefined) patch.passwordHash = await this.hasher.hash(input.password);
    return settle(await this.store.updateUser(tenantId, id, patch, new Date()), id, 'demoted or disabled');
  }

  async remove(tenantId: string, id: string): Promise<void> {
    settle(await this.store.deleteUser(tenantId, id), id, 'deleted');
  }
}

function settle(change: UserChange, id: string, verb: string): UserRecord {
  if (change.ok) return change.user;
  if (change.reason === 'not-found') throw notFound('user', id);
  throw new AppError(
    ErrorCode.LAST_ADMIN,
    `This user is the tenant's last active admin and cannot be ${verb}; make another user admin first.`,
    { id },
  );
}
