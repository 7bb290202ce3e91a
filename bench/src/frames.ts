import { create, toBinary } from '@bufbuild/protobuf';
import { ControlFrameSchema, DelegateFrameSchema, echo, type ControlFrame, type DelegateFrame } from '@attache/proto';
import { ECHO_PAYLOAD } from './dispatch-payload.js';

/** Same length as a real task id (tsk_ + 26 characters), so frame sizes match. */
const FLOOR_TASK_ID = `tsk_${'0'.repeat(26)}`;

/**
 * The frames an echo task costs on the wire: Assign (control plane → delegate) and Result
 * (delegate → control plane), with the same payload the dispatch bench sends. The floor bounces
 * exactly these.
 */
export function echoAssign(taskId = FLOOR_TASK_ID): ControlFrame {
  return create(ControlFrameSchema, {
    frame: {
      case: 'assign',
      value: {
        taskId,
        attempt: 1,
        type: 'echo',
        payload: toBinary(echo.EchoPayloadSchema, create(echo.EchoPayloadSchema, ECHO_PAYLOAD)),
        deadlineUnixMs: BigInt(Date.now() + 300_000),
      },
    },
  });
}

export function echoResult(taskId = FLOOR_TASK_ID): DelegateFrame {
  return create(DelegateFrameSchema, {
    frame: {
      case: 'result',
      value: {
        taskId,
        attempt: 1,
        outcome: { case: 'success', value: toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: ECHO_PAYLOAD.message })) },
        durationMs: 1,
      },
    },
  });
}

export function frameSizes(): { assign: number; result: number } {
  return { assign: toBinary(ControlFrameSchema, echoAssign()).length, result: toBinary(DelegateFrameSchema, echoResult()).length };
}
