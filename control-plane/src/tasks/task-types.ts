import { fromBinary, fromJson, toBinary, toJson, type DescMessage, type JsonValue } from '@bufbuild/protobuf';
import { aws, echo } from '@attache/proto';
import { AppError, ErrorCode } from '../errors.js';

/**
 * The task types the control plane knows. The API speaks JSON; the wire speaks each type's
 * protobuf message. Converting at the edge validates the payload (unknown fields, wrong types) with
 * the same schema the delegate decodes.
 */
export interface TaskType {
  readonly name: string;
  readonly payload: DescMessage;
  readonly result: DescMessage;
  /**
   * Whether POST /v1/tasks may create it. aws.validate is only created from a stored account, whose
   * auth has passed the literal-secret checks, so a raw task cannot smuggle a secret in.
   */
  readonly creatableByApi: boolean;
}

const TYPES: readonly TaskType[] = [
  { name: 'echo', payload: echo.EchoPayloadSchema, result: echo.EchoResultSchema, creatableByApi: true },
  {
    name: 'aws.validate',
    payload: aws.ValidateAccountPayloadSchema,
    result: aws.ValidateAccountResultSchema,
    creatableByApi: false,
  },
  // Like aws.validate, built from a stored account (GET /v1/aws/accounts/{id}/available-policies).
  { name: 'aws.listPolicies', payload: aws.ListPoliciesPayloadSchema, result: aws.ListPoliciesResultSchema, creatableByApi: false },
];

const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

export function taskType(name: string): TaskType {
  const t = BY_NAME.get(name);
  if (!t) {
    throw new AppError(ErrorCode.UNSUPPORTED_TASK_TYPE, `Unknown task type "${name}". Known types: ${[...BY_NAME.keys()].join(', ')}.`, {
      type: name,
    });
  }
  return t;
}

export function knownTaskTypes(): string[] {
  return [...BY_NAME.keys()];
}

/** JSON payload (as the API received it) → the bytes of the type's payload message. */
export function encodePayload(type: TaskType, payload: Record<string, unknown>): Uint8Array {
  try {
    return toBinary(type.payload, fromJson(type.payload, payload as JsonValue));
  } catch (err) {
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `The payload is not a valid ${type.name} payload: ${(err as Error).message}`,
      { field: 'payload' },
      { cause: err },
    );
  }
}

/** Normalises a JSON payload through the schema (defaults dropped, names canonical). */
export function normalisePayload(type: TaskType, payload: Record<string, unknown>): Record<string, unknown> {
  const bytes = encodePayload(type, payload);
  return toJson(type.payload, fromBinary(type.payload, bytes)) as Record<string, unknown>;
}

/** Result bytes from a delegate → JSON for storage and the API; a malformed result is a protocol error. */
export function decodeResult(type: TaskType, bytes: Uint8Array): Record<string, unknown> {
  return toJson(type.result, fromBinary(type.result, bytes), { alwaysEmitImplicit: false }) as Record<string, unknown>;
}
