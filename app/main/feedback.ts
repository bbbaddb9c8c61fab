// Taskbar/dock progress while a batch runs and an OS notification when it ends. Pure over the two
// effects it needs, so it is tested without Electron.
import type { EventName, EventPayload } from '../contract/index.ts';

export interface FeedbackSinks {
  /** 0..1 shows progress; -1 removes it (BrowserWindow.setProgressBar). */
  setProgress(value: number, mode?: 'normal' | 'error'): void;
  notify(title: string, body: string): void;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function batchSummary(r: EventPayload<'batch.done'>): { title: string; body: string } {
  const parts = [`${plural(r.done, 'photo', 'photos')} restored`];
  if (r.failed) parts.push(`${r.failed} failed`);
  if (r.skipped) parts.push(`${r.skipped} already done`);
  const title = r.cancelled ? 'Restora: batch cancelled' : r.failed ? 'Restora: batch finished with errors' : 'Restora: batch finished';
  return { title, body: parts.join(', ') };
}

/** Feed it every event going to the window. */
export function createBatchFeedback(sinks: FeedbackSinks): <N extends EventName>(name: N, payload: EventPayload<N>) => void {
  return (name, payload) => {
    if (name === 'batch.progress') {
      const p = payload as EventPayload<'batch.progress'>;
      sinks.setProgress(Math.min(1, Math.max(0, p.progress)), p.failed ? 'error' : 'normal');
    } else if (name === 'batch.done') {
      sinks.setProgress(-1);
      const s = batchSummary(payload as EventPayload<'batch.done'>);
      sinks.notify(s.title, s.body);
    } else if (name === 'host.crashed') {
      sinks.setProgress(-1);
      sinks.notify('Restora: the engine stopped', (payload as EventPayload<'host.crashed'>).message);
    }
  };
}
