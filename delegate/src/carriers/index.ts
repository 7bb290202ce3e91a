/**
 * Carrier factory by URL scheme. Each built-in carrier registers its schemes when its module
 * loads; the import list below is the only place that names them. Carriers living elsewhere call
 * `registerCarrier` themselves.
 */
import './grpc.js';
import './websocket.js';
import './nats.js';
import { carrierFor, registeredSchemes, type Carrier, type CarrierOptions } from './carrier.js';

export {
  CarrierError,
  carrierFor,
  registerCarrier,
  registeredSchemes,
  type Carrier,
  type CarrierConnection,
  type CarrierErrorKind,
  type CarrierFactory,
  type CarrierOptions,
  type CarrierRegistration,
} from './carrier.js';

/** Creates the carrier for `url`; throws when no carrier serves its scheme. */
export function createCarrier(url: string | URL, options: CarrierOptions): Carrier {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  const registration = carrierFor(parsed.protocol);
  if (!registration) {
    throw new Error(
      `no carrier for scheme ${parsed.protocol} (supported: ${registeredSchemes().map((s) => `${s}://`).join(', ')})`,
    );
  }
  return registration.create(parsed, options);
}
