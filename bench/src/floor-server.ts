/**
 * The floor's server, run as its own process like the control plane: a bare grpc-js
 * DelegateService.Connect that answers every Result frame with an Assign frame, and does nothing
 * else. Prints its port on stdout.
 */
import * as grpc from '@grpc/grpc-js';
import { delegateServiceDefinition, MAX_FRAME_BYTES, type ControlFrame, type DelegateFrame } from '@attache/proto';
import { echoAssign } from './frames.js';

const assign = echoAssign();
const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_FRAME_BYTES });
server.addService(delegateServiceDefinition, {
  connect(call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) {
    call.on('data', () => call.write(assign));
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`floor listening ${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
