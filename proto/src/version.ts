/** Version of the delegate protocol these frames implement. */
export const PROTOCOL_VERSION = 'v1';
