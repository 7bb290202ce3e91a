/**
 * The `attache.aws.v1` package as one namespace: each task type has its own .proto file (and so its
 * own generated module), but callers think of them as one package.
 */
export * from './gen/attache/aws/v1/validate_pb.js';
export * from './gen/attache/aws/v1/policies_pb.js';
