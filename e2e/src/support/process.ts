// Moved to the shared test toolkit (testkit/src/process.ts), which bench/ uses too; this path stays for the e2e tests.
export * from '@attache/testkit/process';
