import { toBinary } from '@bufbuild/protobuf';
import { TaskErrorSchema, type Assign, type Result } from './gen/attache/delegate/v1/delegate_pb.js';
import { MAX_FRAME_BYTES } from './grpc-service.js';

/**
 * Batched frames (ControlFrame.assign_batch, DelegateFrame.batch): the rules both sides share.
 *
 * Each side says in its opening frame how many items it takes in one batch (Hello.max_batch_items
 * for AssignBatch, Welcome.max_batch_items for DelegateBatch); 0, which is what a peer that predates
 * batches sends, means single frames only. A sender never puts more items in one frame than the
 * peer announced, keeps the frame under `BATCH_LIMITS.maxBytes`, and sends an item that would be
 * alone in its batch as the plain frame. A receiver refuses a batch with more items than it
 * announced (Goodbye BATCH_TOO_LARGE on the control plane; the delegate drops the connection); one
 * over MAX_FRAME_BYTES never gets past the carrier.
 */
export const BATCH_LIMITS = {
  /**
   * What each side announces by default: far above what one event-loop turn produces on one
   * connection (a pump claims at most 16 tasks; a delegate runs at most 1,000 at once), low enough
   * that a batch's items are handled in bounded time.
   */
  maxItems: 256,
  /** Encoded size a sender keeps a batch under: a frame's limit with room for the batch's own fields. */
  maxBytes: MAX_FRAME_BYTES - 4 * 1024,
} as const;

/** Upper bound of a string's UTF-8 bytes without encoding it: three per UTF-16 unit at most. */
const utf8Bound = (s: string) => s.length * 3;

/** Tags, lengths and varints around an item's variable-length fields (and its place in the batch). */
const ITEM_OVERHEAD_BYTES = 48;

/** An upper bound of an Assign's encoded size inside a batch, from its field lengths. */
export function assignBytes(assign: Pick<Assign, 'taskId' | 'type' | 'payload'>): number {
  return utf8Bound(assign.taskId) + utf8Bound(assign.type) + assign.payload.length + ITEM_OVERHEAD_BYTES;
}

/** An upper bound of a Result's encoded size inside a batch (an error outcome is encoded to know it: its details are free-form). */
export function resultBytes(result: Pick<Result, 'taskId' | 'outcome'>): number {
  const outcome =
    result.outcome.case === 'success' ? result.outcome.value.length : result.outcome.case === 'error' ? toBinary(TaskErrorSchema, result.outcome.value).length : 0;
  return utf8Bound(result.taskId) + outcome + ITEM_OVERHEAD_BYTES;
}

/**
 * Splits items, in order, into frames of at most `maxItems` items and `maxBytes` estimated bytes.
 * An item larger than `maxBytes` on its own gets a frame of its own (sent as the plain frame, which
 * the carrier's MAX_FRAME_BYTES bounds as it always has).
 */
export function splitBatches<T>(items: readonly T[], maxItems: number, sizeOf: (item: T) => number, maxBytes: number = BATCH_LIMITS.maxBytes): T[][] {
  const frames: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      frames.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) frames.push(current);
  return frames;
}

/** The sentence a receiver refuses an oversized batch with. */
export function batchTooLargeMessage(what: string, items: number, limit: number): string {
  return `A ${what} of ${items} items is more than the ${limit} this side announced (max_batch_items).`;
}
