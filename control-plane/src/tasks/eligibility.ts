/**
 * Why a delegate can or cannot take a task. The same rules drive claims (in the store's SQL) and
 * the explanation in NO_ELIGIBLE_DELEGATE, so an operator reads exactly what routing checked.
 */
export interface DelegateView {
  id: string;
  name: string;
  /** Tags including the delegate's own name. */
  tags: readonly string[];
  taskTypes: readonly string[];
  status: 'connected' | 'draining' | 'disconnected';
  inFlight: number;
  maxConcurrency: number;
}

export interface TaskRequirements {
  type: string;
  selectors: readonly string[];
}

export interface Ineligibility {
  delegateId: string;
  name: string;
  reasons: string[];
}

/** Reasons that never change while the delegate stays connected: tags and task types. */
export function staticReasons(d: DelegateView, task: TaskRequirements): string[] {
  const reasons: string[] = [];
  const missing = task.selectors.filter((s) => !d.tags.includes(s));
  if (missing.length > 0) reasons.push(`missing tags: ${missing.join(', ')}`);
  if (!d.taskTypes.includes(task.type)) reasons.push(`task type "${task.type}" not supported`);
  return reasons;
}

/** All reasons, including the passing ones (draining, full). Empty means it can take the task now. */
export function allReasons(d: DelegateView, task: TaskRequirements): string[] {
  const reasons = staticReasons(d, task);
  if (d.status === 'draining') reasons.push('draining');
  else if (d.status === 'disconnected') reasons.push('disconnected');
  else if (d.inFlight >= d.maxConcurrency) reasons.push(`full (${d.inFlight}/${d.maxConcurrency} tasks)`);
  return reasons;
}

/** A delegate that could take the task once it has a free slot. */
export function couldEverTake(d: DelegateView, task: TaskRequirements): boolean {
  return d.status === 'connected' && staticReasons(d, task).length === 0;
}

export function explain(delegates: readonly DelegateView[], task: TaskRequirements): Ineligibility[] {
  return delegates
    .map((d) => ({ delegateId: d.id, name: d.name, reasons: allReasons(d, task) }))
    .filter((e) => e.reasons.length > 0);
}

export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
}
