import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RestoraError, Settings, type RestoraApi, type SettingsPatch } from '../../../app/contract/index.ts';
import { SettingsSync, type SettingsView } from './settings-sync.ts';

interface Call {
  name: string;
  args: unknown;
  resolve: (v: Settings) => void;
  reject: (e: unknown) => void;
}

/** What the host holds: the defaults under `fields`. */
const held = (fields: SettingsPatch): Settings => Settings.parse(fields);

/** A fake host that answers each call only when the test says, so replies come back in any order. */
function setup(start: SettingsPatch = {}) {
  const calls: Call[] = [];
  const api = {
    call: (name: string, args: unknown) => new Promise((resolve, reject) => calls.push({ name, args, resolve, reject })),
    on: () => () => undefined,
  } as unknown as RestoraApi;
  const view: SettingsView = { settings: held(start), error: vi.fn() };
  return { calls, view, sync: new SettingsSync(api, view) };
}

// fires the timers that are due and runs what the replies set off
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('settings sync', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows a change at once, sends it, then shows what the host made of it', async () => {
    const { calls, view, sync } = setup();
    const done = sync.update({ outputDir: 'out', quality: 150 }, 0);
    expect(view.settings).toMatchObject({ outputDir: 'out', quality: 150 });
    await settle();
    expect(calls.map((c) => [c.name, c.args])).toEqual([['settings.set', { outputDir: 'out', quality: 150 }]]);
    // the host makes the folder absolute and clamps the quality
    calls[0].resolve(held({ outputDir: '/home/me/out', quality: 100 }));
    expect(await done).toEqual({ outputDir: 'out', quality: 150 });
    expect(view.settings).toEqual(held({ outputDir: '/home/me/out', quality: 100 }));
  });

  it('the settings read at start-up do not undo a change made while they were on their way', async () => {
    const { calls, view, sync } = setup();
    const loaded = sync.load();
    sync.update({ quality: 70 }, 0);
    await settle();
    expect(calls.map((c) => c.name)).toEqual(['settings.get', 'settings.set']);
    calls[0].resolve(held({ suffix: '-mine' }));
    await loaded;
    expect(view.settings).toEqual(held({ suffix: '-mine', quality: 70 }));
    calls[1].resolve(held({ suffix: '-mine', quality: 70 }));
    await settle();
    expect(view.settings).toEqual(held({ suffix: '-mine', quality: 70 }));
  });

  it('changes made within the delay go in one call, and every caller hears when it is answered', async () => {
    const { calls, view, sync } = setup();
    const first = sync.update({ suffix: '-a' }, 300);
    await vi.advanceTimersByTimeAsync(100);
    const second = sync.update({ suffix: '-ab', quality: 70 }, 300);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls.map((c) => c.args)).toEqual([{ suffix: '-ab', quality: 70 }]);
    calls[0].resolve(held({ suffix: '-ab', quality: 70 }));
    expect(await first).toEqual({ suffix: '-ab', quality: 70 });
    expect(await second).toEqual({ suffix: '-ab', quality: 70 });
    expect(view.settings).toEqual(held({ suffix: '-ab', quality: 70 }));
  });

  it('a late reply to an older call never puts back a value the user changed since', async () => {
    const { calls, view, sync } = setup({ format: 'png' });
    sync.update({ outputDir: '/out' }, 0);
    await settle();
    sync.update({ format: 'jpeg' }, 0);
    await settle();
    sync.update({ quality: 80 }, 0);
    await settle();
    expect(calls.map((c) => c.args)).toEqual([{ outputDir: '/out' }, { format: 'jpeg' }, { quality: 80 }]);
    const latest = held({ outputDir: '/out', format: 'jpeg', quality: 80 });
    // the host applies the calls in order and answers each with what it held after it; the answers
    // come back newest first, the older ones still carrying format png and quality 92
    calls[2].resolve(latest);
    await settle();
    expect(view.settings).toEqual(latest);
    calls[1].resolve(held({ outputDir: '/out', format: 'jpeg' }));
    await settle();
    expect(view.settings).toEqual(latest);
    calls[0].resolve(held({ outputDir: '/out', format: 'png' }));
    await settle();
    expect(view.settings).toEqual(latest);
  });

  it('a reply keeps the changes still in flight and the ones not sent yet', async () => {
    const { calls, view, sync } = setup({ format: 'png' });
    sync.update({ format: 'jpeg' }, 0);
    await settle();
    sync.update({ quality: 80 }, 0);
    await settle();
    sync.update({ suffix: '-x' }, 300);
    calls[0].resolve(held({ format: 'jpeg' }));
    await settle();
    expect(view.settings).toMatchObject({ format: 'jpeg', quality: 80, suffix: '-x' });
    calls[1].resolve(held({ format: 'jpeg', quality: 80 }));
    await settle();
    expect(view.settings).toMatchObject({ format: 'jpeg', quality: 80, suffix: '-x' });
    await vi.advanceTimersByTimeAsync(300);
    expect(calls[2].args).toEqual({ suffix: '-x' });
    calls[2].resolve(held({ format: 'jpeg', quality: 80, suffix: '-x' }));
    await settle();
    expect(view.settings).toEqual(held({ format: 'jpeg', quality: 80, suffix: '-x' }));
  });

  it('a refused change is reported and undone from the host, keeping the later ones', async () => {
    const { calls, view, sync } = setup();
    const refused = sync.update({ outputDir: '/nope' }, 0);
    await settle();
    const later = sync.update({ quality: 80 }, 0);
    await settle();
    const err = new RestoraError('E_FORBIDDEN', '/nope is not a folder you chose for output');
    calls[0].reject(err);
    await settle();
    expect(view.error).toHaveBeenCalledWith(err);
    expect(calls[2]).toMatchObject({ name: 'settings.get', args: {} });
    // the host has not written the quality yet
    calls[2].resolve(held({}));
    expect(await refused).toBeNull();
    expect(view.settings).toEqual(held({ quality: 80 }));
    calls[1].resolve(held({ quality: 80 }));
    expect(await later).toEqual({ quality: 80 });
    expect(view.settings).toEqual(held({ quality: 80 }));
  });

  it('what settings.get read after a refusal does not undo a change answered before it', async () => {
    const { calls, view, sync } = setup();
    sync.update({ outputDir: '/nope' }, 0);
    await settle();
    calls[0].reject(new RestoraError('E_FORBIDDEN', 'no'));
    await settle();
    sync.update({ tile: 512 }, 0);
    await settle();
    expect(calls.map((c) => c.name)).toEqual(['settings.set', 'settings.get', 'settings.set']);
    calls[2].resolve(held({ tile: 512 }));
    await settle();
    calls[1].resolve(held({}));
    await settle();
    expect(view.settings).toEqual(held({ tile: 512 }));
  });
});
