import { describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { pickByNameOrId } from './resolve.js';

describe('pickByNameOrId', () => {
  const items = [
    { id: 'acc_1', name: 'prod' },
    { id: 'acc_2', name: 'dup' },
    { id: 'acc_3', name: 'dup' },
    { id: 'acc_4', name: 'acc_1' },
  ];

  it('an exact id wins over a name, then a unique name', () => {
    expect(pickByNameOrId(items, 'acc_1', 'AWS account', 'attache accounts list')).toBe(items[0]);
    expect(pickByNameOrId(items, 'prod', 'AWS account', 'attache accounts list')).toBe(items[0]);
    expect(pickByNameOrId(items, 'acc_3', 'AWS account', 'attache accounts list')).toBe(items[2]);
  });

  it('an unknown name is NOT_FOUND (exit 4) pointing at the list; an ambiguous one lists the ids (exit 2)', () => {
    expect(() => pickByNameOrId(items, 'staging', 'AWS account', 'attache accounts list')).toThrow(
      expect.objectContaining({ code: 'NOT_FOUND', exitCode: ExitCode.NOT_FOUND, message: 'No AWS account named or with id "staging"; attache accounts list lists them.' }),
    );
    expect(() => pickByNameOrId(items, 'dup', 'AWS account', 'attache accounts list')).toThrow(
      expect.objectContaining({ code: 'AMBIGUOUS_NAME', exitCode: ExitCode.USAGE, message: '2 AWS accounts are named "dup" (acc_2, acc_3); name one by its id.' }),
    );
  });
});
