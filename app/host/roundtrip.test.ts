// The contract across a real MessagePort (node:worker_threads MessageChannel: structured clone, as
// between Electron main and the utility process): main's supervisor on one end, the host with the
// one handler table on the other. Calls, events, errors with codes, soft cancel, hard cancel (the
// host is killed and restarted) and a crash (host.crashed names the batch).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RestoraError, events, type EventName } from '../contract/index.ts';
import { createHostSupervisor, type HostSupervisor, type SpawnedHost } from '../main/host-process.ts';
import { createGrantSet } from './grants.ts';
import { HOST_SAVE_WINDOW_STATE, WINDOW_STATE_FILE, type HostInit } from './init.ts';
import { startHost, type RunningHost } from './serve.ts';
import { createFakeEngine, type FakeEngine } from './testing/fake-engine.ts';
import { nodePortEndpoint, type ToHost, type ToMain } from './wire.ts';

const PNG = Uint8Array.from(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));

let dir: string;
let dataDir: string;
let sup: HostSupervisor;
let engines: FakeEngine[];
let hosts: RunningHost[];
let inits: HostInit[];
let emitted: { name: EventName; payload: unknown }[];
let served: ReturnType<typeof createGrantSet>;
let exits: ((code: number | null) => void)[];
let requests: { op: string; arg: string }[];

const waitFor = async (pred: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const eventsNamed = (n: EventName) => emitted.filter((e) => e.name === n).map((e) => e.payload as Record<string, unknown>);

/** An in-memory "utility process": a host served on one end of a MessageChannel. */
function spawn(init: HostInit): SpawnedHost {
  inits.push(init);
  const { port1, port2 } = new MessageChannel();
  const engine = createFakeEngine({ dataDir });
  engines.push(engine);
  const listeners: ((code: number | null) => void)[] = [];
  const running = startHost(nodePortEndpoint<ToHost, ToMain>(port2), Promise.resolve(engine), init).then((h) => {
    hosts.push(h);
    return h;
  });
  let dead = false;
  const die = (code: number | null) => {
    if (dead) return;
    dead = true;
    void running.then((h) => h.close());
    port2.close();
    setImmediate(() => listeners.splice(0).forEach((l) => l(code)));
  };
  exits.push(die);
  return { endpoint: nodePortEndpoint<ToMain, ToHost>(port1), kill: () => die(null), onExit: (cb) => listeners.push(cb) };
}

beforeEach(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'restora-rt-')));
  dataDir = path.join(dir, 'data');
  fs.mkdirSync(path.join(dir, 'shoot'));
  for (const f of ['a.jpg', 'b.jpg', 'c.jpg']) fs.writeFileSync(path.join(dir, 'shoot', f), 'x');
  engines = [];
  hosts = [];
  inits = [];
  emitted = [];
  exits = [];
  requests = [];
  served = createGrantSet();
  sup = createHostSupervisor({
    spawn,
    init: () => ({ dataDir, version: '1.2.3', grants: served.list().files, dirs: [path.join(dir, 'shoot')] }),
    onEvent: (name, payload) => emitted.push({ name, payload }),
    onGrant: (p) => served.grant(p),
    onRequest: async (op, arg) => {
      requests.push({ op, arg });
      return op === 'choosePaths' ? [path.join(dir, 'shoot', 'a.jpg')] : true;
    },
    maxRestarts: 2,
  });
  sup.start();
  await sup.ready();
});

afterEach(async () => {
  await sup.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function addShoot(): Promise<string[]> {
  const r = (await sup.call('files.add', { paths: [path.join(dir, 'shoot')] })) as { files: { path: string }[] };
  return r.files.map((f) => f.path);
}

describe('contract round trip over a MessagePort', () => {
  it('calls return results; grants made by the host reach main', async () => {
    expect(await sup.call('app.info', {})).toEqual({ version: '1.2.3', mode: 'electron', runtime: { requested: 'auto', active: 'cpu', available: ['cpu'], threads: 1 }, maxPixels: 200e6 });
    const files = await addShoot();
    expect(files).toHaveLength(3);
    expect(served.isGranted(files[0])).toBe(true);
    const info = (await sup.call('image.info', { path: files[0] })) as { url: string };
    expect(info.url).toMatch(/^restora:\/\/app\/files\?path=.*&v=\d+$/);
    const display = new URL(info.url).searchParams.get('path')!;
    expect(served.isGranted(display)).toBe(true); // granted in main before the result arrived
  });

  it('binary arguments cross intact (mask.save with PNG bytes)', async () => {
    const [a] = await addShoot();
    const { path: mask } = (await sup.call('mask.save', { forPath: a, png: PNG })) as { path: string };
    expect(Buffer.compare(fs.readFileSync(mask), Buffer.from(PNG))).toBe(0);
    expect(served.isGranted(mask)).toBe(true);
  });

  it('errors come back as RestoraError with code, sentence and file', async () => {
    const err = (await sup.call('image.info', { path: path.join(dir, 'secret.jpg') }).catch((e: unknown) => e)) as RestoraError;
    expect(err).toBeInstanceOf(RestoraError);
    expect(err.code).toBe('E_FORBIDDEN');
    expect(err.message).toContain('secret.jpg');
    expect(err.file).toBe(path.join(dir, 'secret.jpg'));
    expect(((await sup.call('nope.call', {}).catch((e: unknown) => e)) as RestoraError).code).toBe('E_USAGE');
    expect(((await sup.call('files.add', { paths: 'x' }).catch((e: unknown) => e)) as RestoraError).code).toBe('E_USAGE');
  });

  it('events stream progress, valid by the contract, ending with batch.done', async () => {
    const files = await addShoot();
    const { batchId } = (await sup.call('batch.start', { files, recipe: [{ task: 'denoise', sigma: 15 }] })) as { batchId: string };
    await waitFor(() => eventsNamed('batch.done').length === 1);
    for (const e of emitted) expect(events[e.name].safeParse(e.payload).success).toBe(true);
    const fp = eventsNamed('file.progress').filter((p) => p.batchId === batchId);
    expect(fp.filter((p) => p.status === 'done')).toHaveLength(3);
    expect(eventsNamed('batch.progress').at(-1)).toMatchObject({ done: 3, progress: 1 });
    expect(eventsNamed('batch.done')[0]).toMatchObject({ batchId, done: 3, failed: 0, cancelled: false });
    expect(sup.runningBatches()).toEqual([]);
  });

  it('requests only main can answer (dialogs, reveal) go through main', async () => {
    expect(await sup.call('dialog.open', { purpose: 'files' })).toEqual({ paths: [path.join(dir, 'shoot', 'a.jpg')] });
    expect(await sup.call('shell.openFolder', { path: path.join(dir, 'shoot') })).toEqual({ opened: true, path: path.join(dir, 'shoot') });
    expect(requests).toEqual([
      { op: 'choosePaths', arg: 'files' },
      { op: 'openFolder', arg: path.join(dir, 'shoot') },
    ]);
  });

  it('window state is written by the host (the one writer)', async () => {
    await sup.call(HOST_SAVE_WINDOW_STATE, { width: 900, height: 600, x: 1, y: 2, maximized: false });
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, WINDOW_STATE_FILE), 'utf8'))).toEqual({ width: 900, height: 600, x: 1, y: 2, maximized: false });
  });
});

describe('cancel', () => {
  it("quitting lets the window's last save finish before the host is ended", async () => {
    const [a] = await addShoot();
    // the window's save on its way out (pagehide), and the app quitting at once
    const save = sup.call('work.save', { items: [{ path: a, rel: 'a.jpg', size: 1, status: 'ready' }] });
    await sup.stop();
    await expect(save).resolves.toEqual({ items: 1 });
    const kept = JSON.parse(fs.readFileSync(path.join(dataDir, 'work.json'), 'utf8')) as { items: { path: string }[] };
    expect(kept.items.map((it) => it.path)).toEqual([a]);
  });

  it('soft cancel stops the batch between tiles, the host lives on', async () => {
    engines[0].hold = true;
    const files = await addShoot();
    const { batchId } = (await sup.call('batch.start', { files, recipe: [{ task: 'denoise' }] })) as { batchId: string };
    await waitFor(() => eventsNamed('file.progress').some((p) => p.batchId === batchId));
    engines[0].release(); // one tile runs
    await waitFor(() => engines[0].tilesRun === 1);
    expect(await sup.call('batch.cancel', { batchId })).toEqual({ ok: true });
    await waitFor(() => eventsNamed('batch.done').length === 1);
    const report = eventsNamed('batch.done')[0] as { cancelled: boolean; files: { status: string }[] };
    expect(report.cancelled).toBe(true);
    expect(report.files.map((f) => f.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(engines[0].tilesRun).toBe(1); // stopped at the next tile boundary
    expect(engines).toHaveLength(1); // no restart
    expect(await sup.call('settings.get', {})).toMatchObject({ theme: 'dark' });
  });

  it('hard cancel kills the host: the batch ends cancelled (finished photos kept), the host restarts with its grants', async () => {
    const files = await addShoot();
    engines[0].hold = true;
    const { batchId } = (await sup.call('batch.start', { files, recipe: [{ task: 'denoise' }] })) as { batchId: string };
    await waitFor(() => eventsNamed('file.progress').length > 0);
    expect(await sup.call('batch.cancel', { batchId: 'other', hard: true }).catch((e: RestoraError) => e.code)).toEqual({ ok: false }); // not running: soft path
    expect(await sup.hardCancel(batchId)).toEqual({ ok: true });
    await waitFor(() => eventsNamed('batch.done').length === 1);
    const report = eventsNamed('batch.done')[0];
    expect(events['batch.done'].safeParse(report).success).toBe(true);
    expect(report).toMatchObject({ batchId, cancelled: true, done: 0, total: 3 });
    expect((report.files as { status: string }[]).every((f) => f.status === 'cancelled')).toBe(true);
    expect(eventsNamed('host.crashed')).toEqual([]); // a cancel is not a crash
    await sup.ready();
    expect(engines).toHaveLength(2);
    expect(engines[0].closed).toBe(true);
    // the new host knows what the user had chosen: the same photo is still allowed
    expect(inits[1].grants).toEqual(expect.arrayContaining(files));
    expect(await sup.call('image.info', { path: files[0] })).toMatchObject({ width: 64 });
    expect(sup.runningBatches()).toEqual([]);
  });
});

describe('a host that crashes', () => {
  it('fails the calls in flight, tells the UI which batch failed (keeping finished photos), and restarts', async () => {
    const files = await addShoot();
    engines[0].hold = true;
    const { batchId } = (await sup.call('batch.start', { files, recipe: [{ task: 'denoise' }] })) as { batchId: string };
    await waitFor(() => eventsNamed('file.progress').length > 0);
    // let a.jpg finish, then crash while b.jpg runs
    const releaseUntil = async (pred: () => boolean) => {
      while (!pred()) {
        engines[0].release();
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await releaseUntil(() => eventsNamed('file.progress').some((p) => p.status === 'done'));
    await waitFor(() => eventsNamed('file.progress').some((p) => p.status === 'running' && String(p.input).endsWith('b.jpg')));
    engines[0].runtimeInfo = () => new Promise(() => undefined); // a call that never answers
    const inFlight = sup.call('app.info', {}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    exits[0](134);
    const crashed = await waitFor(() => eventsNamed('host.crashed').length === 1).then(() => eventsNamed('host.crashed')[0]);
    expect(crashed.batchId).toBe(batchId);
    expect(crashed.message).toContain('b.jpg');
    const report = eventsNamed('batch.done')[0] as { files: { input: string; status: string; error?: { code: string } }[]; done: number; failed: number };
    expect(report.done).toBe(1);
    expect(report.files.map((f) => [path.basename(f.input), f.status])).toEqual([
      ['a.jpg', 'done'],
      ['b.jpg', 'failed'],
      ['c.jpg', 'failed'],
    ]);
    expect(report.files[1].error?.code).toBe('E_INTERNAL');
    const r = (await inFlight) as RestoraError;
    expect(r).toBeInstanceOf(RestoraError);
    expect(r.code).toBe('E_INTERNAL');
    expect(r.message).toMatch(/stopped unexpectedly \(exit code 134\)/);
    await sup.ready();
    expect(engines).toHaveLength(2);
    expect(await sup.call('settings.get', {})).toMatchObject({ theme: 'dark' });
  });

  it('a crash with no batch running is reported without a batch id; repeated crashes stop the restarts', async () => {
    exits[0](1);
    await waitFor(() => eventsNamed('host.crashed').length === 1);
    expect(eventsNamed('host.crashed')[0].batchId).toBeUndefined();
    await sup.ready();
    exits[1](1);
    await waitFor(() => engines.length === 3);
    await sup.ready();
    exits[2](1);
    await waitFor(() => eventsNamed('host.crashed').length === 4);
    expect(eventsNamed('host.crashed').at(-1)!.message).toMatch(/will not restart/);
    expect(engines).toHaveLength(3);
    const err = (await sup.call('settings.get', {}).catch((e: unknown) => e)) as RestoraError;
    expect(err.code).toBe('E_INTERNAL');
  });
});
