import { Command, Option } from 'commander';
import { seg } from '../api/client.js';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { outputOption, render } from '../output/render.js';
import { formatFields, formatTable } from '../output/table.js';
import type { TaskView } from '../progress/progress-source.js';
import { followTask } from '../progress/task-progress.js';
import { runtime, type Runtime } from './runtime.js';

const STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'expired'];

function taskFields(rt: Runtime, t: TaskView): string {
  return formatFields(
    [
      ['id', t.id],
      ['type', t.type],
      ['state', t.state],
      ['attempt', `${t.attempt}/${t.maxAttempts}`],
      ['selectors', t['selectors']],
      ['delegate', t.delegateId],
      ['account', t.accountId],
      ['created', t['createdAt']],
      ['ended', t['endedAt']],
      ['error', t.error ? `${t.error.code}: ${t.error.message}` : null],
      ['result', t.result],
    ],
    { label: rt.term.color.bold },
  );
}

/** A task that did not succeed is the command's failure: its code and sentence, exit 1. */
function failUnlessSucceeded(task: TaskView): void {
  if (task.state === 'succeeded') return;
  const error = task.error ?? { code: task.state.toUpperCase(), message: `The task ended ${task.state}.` };
  throw new CliError(error.code, error.message, ExitCode.FAILURE, { taskId: task.id });
}

export function tasksCommand(): Command {
  const tasks = new Command('tasks').description('tasks: queued work and its results');

  tasks
    .command('list')
    .description('list tasks, newest first')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices(STATES))
    .option('--type <type>', 'only tasks of this type, e.g. aws.validate')
    .option('--limit <n>', 'at most this many (1..500)', '50')
    .option('--before <id>', 'tasks older than this one (the previous page\'s next)')
    .addOption(outputOption())
    .action(async (opts: { state?: string; type?: string; limit: string; before?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).get<{ items: TaskView[]; next: string | null }>('/v1/tasks', {
        state: opts.state,
        type: opts.type,
        limit: opts.limit,
        before: opts.before,
      });
      render(rt.term, rt.output, body, () =>
        formatTable(
          [
            { header: 'id', value: (t: TaskView) => t.id },
            { header: 'type', value: (t: TaskView) => t.type },
            { header: 'state', value: (t: TaskView) => t.state },
            { header: 'attempt', value: (t: TaskView) => t.attempt },
            { header: 'account', value: (t: TaskView) => t.accountId },
            { header: 'error', value: (t: TaskView) => t.error?.code },
            { header: 'created', value: (t: TaskView) => t['createdAt'] },
          ],
          body.items,
          { header: rt.term.color.bold },
        ) + (body.next ? `more: attache tasks list --before ${body.next}\n` : ''),
      );
    });

  tasks
    .command('get')
    .description('show one task')
    .argument('<id>', 'task id')
    .addOption(outputOption())
    .action(async (id: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).get<TaskView>(`/v1/tasks/${seg(id)}`);
      render(rt.term, rt.output, body, () => taskFields(rt, body));
    });

  tasks
    .command('watch')
    .description('follow a task until it ends; exits 1 with its error code unless it succeeded')
    .argument('<id>', 'task id')
    .addOption(outputOption())
    .action(async (id: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const { body: start } = await api.get<TaskView>(`/v1/tasks/${seg(id)}`);
      const task = await followTask(api, rt.progress(api), rt.term, start, `task ${start.id} (${start.type})`);
      render(rt.term, rt.output, task, () => taskFields(rt, task));
      failUnlessSucceeded(task);
    });

  tasks
    .command('cancel')
    .description('cancel a task (a running one is cancelled on its delegate)')
    .argument('<id>', 'task id')
    .addOption(outputOption())
    .action(async (id: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).post<TaskView>(`/v1/tasks/${seg(id)}/cancel`);
      render(rt.term, rt.output, body, () => `task ${body.id}: ${body.state}\n`);
    });
  return tasks;
}
