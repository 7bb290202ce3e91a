/** The echo task every system in the bench runs: a tiny payload, answered at once. */
export const ECHO_PAYLOAD = { message: 'ping' };
