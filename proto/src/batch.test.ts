import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { assignBytes, BATCH_LIMITS, resultBytes, splitBatches } from './batch.js';
import { AssignBatchSchema, AssignSchema, DelegateBatchSchema, ResultSchema, type Assign } from './gen/attache/delegate/v1/delegate_pb.js';
import { MAX_FRAME_BYTES } from './grpc-service.js';

describe('batched frames', () => {
  it('splits in order by item count and by estimated bytes; an item too large for a batch gets a frame of its own', () => {
    expect(splitBatches([1, 2, 3, 4, 5], 2, () => 1)).toEqual([[1, 2], [3, 4], [5]]);
    expect(splitBatches([10, 10, 10, 95, 1], 100, (n) => n, 30)).toEqual([[10, 10, 10], [95], [1]]);
    expect(splitBatches([], 4, () => 1)).toEqual([]);
    expect(BATCH_LIMITS.maxBytes).toBeLessThan(MAX_FRAME_BYTES);
  });

  it('estimates never fall below the encoded size of the batch they go in', () => {
    const assigns: Assign[] = Array.from({ length: 16 }, (_, i) =>
      create(AssignSchema, { taskId: `tsk_${'é'.repeat(i)}${i}`, attempt: 4_000_000_000, type: 'aws.validate', payload: new Uint8Array(i * 1000), deadlineUnixMs: 2n ** 63n }),
    );
    expect(toBinary(AssignBatchSchema, create(AssignBatchSchema, { assigns })).length).toBeLessThanOrEqual(assigns.reduce((n, a) => n + assignBytes(a), 0));

    const results = [
      create(ResultSchema, { taskId: 'tsk_1', attempt: 3, outcome: { case: 'success', value: new Uint8Array(5000) }, durationMs: 4_000_000_000 }),
      // Struct numbers encode as 8-byte doubles: longer than their JSON, which is why errors are encoded to be measured.
      create(ResultSchema, { taskId: 'tsk_2', attempt: 1, outcome: { case: 'error', value: { code: 'X', message: 'm', details: { n: Array(200).fill(1) } } } }),
    ];
    const batch = create(DelegateBatchSchema, { items: [{ item: { case: 'acceptedResult', value: results[0]! } }, { item: { case: 'result', value: results[1]! } }] });
    expect(toBinary(DelegateBatchSchema, batch).length).toBeLessThanOrEqual(results.reduce((n, r) => n + resultBytes(r), 0));
  });
});
