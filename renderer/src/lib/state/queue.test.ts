// QueueState with a fake engine: what a Run sends, and what the queue shows and keeps while and after it runs.
import { describe, expect, it } from 'vitest';
import type { BatchReport, EventPayload, Recipe } from '../../../../app/contract/index.ts';
import { savedItem } from '../work.ts';
import { QueueState } from './queue.svelte.ts';
import type { SessionState } from './session.svelte.ts';

type Handler = (payload: never) => void;

function fakeSession(opts: { startFails?: boolean } = {}) {
  const handlers = new Map<string, Handler[]>();
  const starts: { files: string[]; output: { format: string; suffix: string } }[] = [];
  const notices: string[] = [];
  let n = 0;
  const api = {
    on(name: string, h: Handler) {
      handlers.set(name, [...(handlers.get(name) ?? []), h]);
      return () => {};
    },
    async call(name: string, args: Record<string, unknown>) {
      if (name === 'batch.start') {
        if (opts.startFails) throw { code: 'E_INTERNAL', message: 'the engine is gone' };
        starts.push(args as never);
        return { batchId: `b${++n}` };
      }
      throw new Error(`unexpected call ${name}`);
    },
  };
  const session = {
    api,
    settings: { outputDir: '', suffix: '-restored', format: 'keep', quality: 92, ep: 'cpu', threads: 0, tile: 0, recursive: true },
    connection: 'connected',
    notify: (t: string) => notices.push(t),
    error: (e: unknown) => notices.push(`error: ${JSON.stringify(e)}`),
    logError: () => {},
  };
  const emit = <N extends 'file.progress' | 'batch.done'>(name: N, payload: N extends 'batch.done' ? BatchReport : EventPayload<'file.progress'>) => {
    for (const h of handlers.get(name) ?? []) h(payload as never);
  };
  return { session: session as unknown as SessionState, settings: session.settings, starts, notices, emit };
}

const x2: Recipe = [{ task: 'upscale', scale: 2 }];
const x4: Recipe = [{ task: 'upscale', scale: 4 }];
const done = (batchId: string, files: { input: string; status: 'done' | 'failed' | 'skipped'; output?: string }[], cancelled = false): BatchReport => ({
  batchId,
  total: files.length,
  done: files.filter((f) => f.status === 'done').length,
  failed: files.filter((f) => f.status === 'failed').length,
  skipped: files.filter((f) => f.status === 'skipped').length,
  cancelled,
  seconds: 1,
  files: files.map((f) => ({ ...f, ...(f.status === 'failed' ? { error: { code: 'E_TOO_LARGE' as const, message: 'too large' } } : {}) })),
});
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('QueueState', () => {
  it('a rerun shows and keeps the earlier result, by its own recipe, until it is done; failed, the result stays', async () => {
    const f = fakeSession();
    const q = new QueueState(f.session);
    q.restore([{ path: '/p/a.png', rel: 'a.png', size: 1, status: 'done', output: '/p/restored/a.png', outputRecipe: x2, outputKey: 'k2' }]);
    await q.start(x4, undefined, undefined, 'k4');
    const a = q.get('/p/a.png')!;
    expect(a.status).toBe('queued');
    expect(a).toMatchObject({ output: '/p/restored/a.png', outputRecipe: x2, outputKey: 'k2' }); // what the compare shows and names
    expect(savedItem(a)).toMatchObject({ status: 'done', outputKey: 'k2' }); // a crash now keeps it as it was
    f.emit('batch.done', done('b1', [{ input: '/p/a.png', status: 'failed' }]));
    expect(a).toMatchObject({ status: 'failed', output: '/p/restored/a.png', outputRecipe: x2, outputKey: 'k2' });
    // run again and done: the new result with the new recipe
    await q.start(x4, undefined, undefined, 'k4');
    f.emit('batch.done', done('b2', [{ input: '/p/a.png', status: 'done', output: '/p/restored/a-1.png' }]));
    expect(a).toMatchObject({ status: 'done', output: '/p/restored/a-1.png', outputRecipe: x4, outputKey: 'k4' });
  });

  it('a batch attached after a reload keeps the earlier result under its own key (a crash then reruns the photo)', () => {
    const f = fakeSession();
    const q = new QueueState(f.session);
    q.restore([{ path: '/p/a.png', rel: 'a.png', size: 1, status: 'done', output: '/p/restored/a.png', outputRecipe: x2, outputKey: 'k2' }]);
    q.attach([{ batchId: 'b9', files: ['/p/a.png'], recipe: x4 }], () => 'k4');
    const a = q.get('/p/a.png')!;
    expect(a.status).toBe('queued');
    expect(savedItem(a)).toMatchObject({ status: 'done', output: '/p/restored/a.png', outputKey: 'k2', outputRecipe: x2 });
  });

  it('a batch that never starts gives each photo back its status and error', async () => {
    const f = fakeSession({ startFails: true });
    const q = new QueueState(f.session);
    q.restore([
      { path: '/p/a.png', rel: 'a.png', size: 1, status: 'done', output: '/p/restored/a.png', outputRecipe: x2, outputKey: 'k2' },
      { path: '/p/b.png', rel: 'b.png', size: 1, status: 'failed', error: { code: 'E_DECODE', message: 'b.png is not a readable image' } },
    ]);
    await q.start(x4, undefined, undefined, 'k4');
    expect(q.get('/p/a.png')).toMatchObject({ status: 'done', outputKey: 'k2' });
    expect(q.get('/p/b.png')).toMatchObject({ status: 'failed', error: { code: 'E_DECODE' } });
    expect(q.get('/p/a.png')!.pending).toBeUndefined();
  });

  it('after a crash, Run resumes the unfinished batch, then runs the photos added since, with the output settings it was pressed with', async () => {
    const f = fakeSession();
    const q = new QueueState(f.session);
    const output = { suffix: '-restored', format: 'keep', quality: 92, overwrite: false };
    q.restore(
      [
        { path: '/p/a.png', rel: 'a.png', size: 1, status: 'ready' },
        { path: '/p/b.png', rel: 'b.png', size: 1, status: 'ready' },
        { path: '/p/c.png', rel: 'c.png', size: 1, status: 'ready' }, // added after that batch started
      ],
      { paths: ['/p/a.png', '/p/b.png'], key: JSON.stringify(['k', output]) },
    );
    await q.start(x2, undefined, undefined, 'k');
    expect(f.starts.map((s) => s.files)).toEqual([['/p/a.png', '/p/b.png']]);
    f.settings.format = 'png'; // changed while the first batch runs: the chained batch still writes as keyed
    f.emit('batch.done', done('b1', [{ input: '/p/a.png', status: 'skipped', output: '/o/a.png' }, { input: '/p/b.png', status: 'done', output: '/o/b.png' }]));
    await tick();
    expect(f.starts.map((s) => s.files)).toEqual([['/p/a.png', '/p/b.png'], ['/p/c.png']]);
    expect(f.starts[1].output.format).toBe('keep');
    // a cancelled resume chains nothing
    const g = fakeSession();
    const r = new QueueState(g.session);
    r.restore([{ path: '/p/a.png', rel: 'a.png', size: 1, status: 'ready' }, { path: '/p/c.png', rel: 'c.png', size: 1, status: 'ready' }], { paths: ['/p/a.png'], key: JSON.stringify(['k', output]) });
    await r.start(x2, undefined, undefined, 'k');
    g.emit('batch.done', done('b1', [], true));
    await tick();
    expect(g.starts).toHaveLength(1);
  });
});
