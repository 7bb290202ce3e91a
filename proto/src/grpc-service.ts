import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  DelegateService,
  type ControlFrame,
  type DelegateFrame,
} from './gen/attache/delegate/v1/delegate_pb.js';

/**
 * Largest frame either side accepts. Payloads are descriptions (no bulk data); a bigger frame is a
 * bug or an attack, and grpc-js rejects it before it is parsed.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

const connect = DelegateService.method.connect;

export const CONNECT_METHOD_PATH = `/${DelegateService.typeName}/${connect.name}`;

/**
 * grpc-js service definition built from the protobuf-es descriptor, so the method path and the
 * message types come from the .proto file and cannot drift.
 */
export const delegateServiceDefinition = {
  connect: {
    path: CONNECT_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    originalName: connect.localName,
    requestSerialize: (frame: DelegateFrame): Buffer => Buffer.from(toBinary(DelegateFrameSchema, frame)),
    requestDeserialize: (bytes: Buffer): DelegateFrame => fromBinary(DelegateFrameSchema, bytes),
    responseSerialize: (frame: ControlFrame): Buffer => Buffer.from(toBinary(ControlFrameSchema, frame)),
    responseDeserialize: (bytes: Buffer): ControlFrame => fromBinary(ControlFrameSchema, bytes),
  },
} satisfies ServiceDefinition;
