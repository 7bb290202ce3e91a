// One PKI helper for the whole toolkit: createTestCa lives in testkit/src/pki.ts beside createCa and issueCertificate.
export { createTestCa, type TestCa } from '@attache/testkit/pki';
