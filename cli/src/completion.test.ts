import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { completionTree } from './completion.js';
import { buildProgram } from './program.js';

describe('completionTree', () => {
  it('follows whatever commands and options are registered, with the program options everywhere but --version', () => {
    const program = new Command('tool').version('1.0.0').option('--context <name>');
    const group = program.command('group').description('a group. More text');
    group.command('leaf').option('-x, --extra <v>');
    program.command('hidden', { hidden: true });
    expect(completionTree(program)).toEqual([
      { path: '', subcommands: [{ name: 'group', description: 'a group' }], options: ['-V', '--version', '--context', '--help'] },
      { path: 'group', subcommands: [{ name: 'leaf', description: '' }], options: ['--context', '--help'] },
      { path: 'group leaf', subcommands: [], options: ['-x', '--extra', '--context', '--help'] },
    ]);
  });

  it('covers every command of attache', () => {
    const paths = completionTree(buildProgram()).map((n) => n.path);
    expect(paths).toEqual(expect.arrayContaining(['accounts validate', 'accounts policies set', 'context use', 'tokens create', 'tasks watch', 'role-setup', 'audit', 'seal', 'completion']));
  });
});
