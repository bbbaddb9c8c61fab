// Settings, presets and the window's work (queue, recipe, masks), persisted as JSON in the data
// folder (settings.json, presets.json, work.json) through
// the one writer's writeFileAtomic, so a crash mid-save leaves the old file, never half a file.
// A file that is missing, unreadable or fails its schema reads as the defaults (settings) or as
// no presets or no work; a broken file is kept beside as `<name>.broken` so nothing the user made is lost.
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { Preset, RestoraError, SavedWork, Settings, type SettingsPatch } from '../contract/index.ts';
import { writeFileAtomic } from '../engine/image/writer.ts';

export interface Store {
  getSettings(): Promise<Settings>;
  /** Merge `patch` into the saved settings (schema-checked) and persist; returns the result. */
  setSettings(patch: SettingsPatch): Promise<Settings>;
  listPresets(): Promise<Preset[]>;
  /** Add or replace (by name) a preset; returns the list sorted by name. */
  savePreset(p: Preset): Promise<Preset[]>;
  deletePreset(name: string): Promise<Preset[]>;
  /** The window's work (work.json), or null when none was saved or it was broken (then kept as .broken, `broken`). */
  getWork(): Promise<{ work: SavedWork | null; broken: boolean }>;
  /** Read work.json, make the new work from it, write that: one step, no other write in between. */
  updateWork(make: (prev: SavedWork | null) => Promise<SavedWork>): Promise<SavedWork>;
}

const PresetList = z.array(Preset);

export function createStore(dataDir: string): Store {
  const settingsFile = path.join(dataDir, 'settings.json');
  const presetsFile = path.join(dataDir, 'presets.json');
  const workFile = path.join(dataDir, 'work.json');
  // one queue for all writes: two quick settings.set calls must not race on the same file
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  async function readJson<T>(file: string, schema: z.ZodType<T>, fallback: T, onBroken?: () => void): Promise<T> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch {
      return fallback;
    }
    try {
      const r = schema.safeParse(JSON.parse(text));
      if (r.success) return r.data;
    } catch {
      // not JSON: treated as broken below
    }
    const kept = await fs.rename(file, `${file}.broken`).then(
      () => true,
      () => false,
    );
    if (kept) onBroken?.();
    return fallback;
  }

  async function save(file: string, value: unknown): Promise<void> {
    try {
      await fs.mkdir(dataDir, { recursive: true });
      // the work file can list thousands of photos: one line, not pretty-printed
      await writeFileAtomic(file, JSON.stringify(value, null, file === workFile ? undefined : 2) + '\n');
    } catch (e) {
      const err = RestoraError.from(e);
      if (err.code !== 'E_INTERNAL') throw err;
      throw new RestoraError('E_WRITE', `${path.basename(file)} could not be saved in ${dataDir} (${err.message})`, file);
    }
  }

  const getSettings = () => readJson(settingsFile, Settings, Settings.parse({}));
  const listPresets = () => readJson(presetsFile, PresetList, []);
  const sorted = (list: Preset[]) => [...list].sort((a, b) => a.name.localeCompare(b.name));

  return {
    // reads wait for the writes queued before them, so a settings.get never answers with a file
    // older than a settings.set the caller has already sent
    getSettings: () => serial(getSettings),
    setSettings: (patch) =>
      serial(async () => {
        const next = Settings.parse({ ...(await getSettings()), ...patch });
        await save(settingsFile, next);
        return next;
      }),
    listPresets: () => serial(async () => sorted(await listPresets())),
    savePreset: (p) =>
      serial(async () => {
        const list = sorted([...(await listPresets()).filter((x) => x.name !== p.name), p]);
        await save(presetsFile, list);
        return list;
      }),
    deletePreset: (name) =>
      serial(async () => {
        const list = sorted((await listPresets()).filter((x) => x.name !== name));
        await save(presetsFile, list);
        return list;
      }),
    getWork: () =>
      serial(async () => {
        let broken = false;
        const work = await readJson<SavedWork | null>(workFile, SavedWork, null, () => (broken = true));
        return { work, broken };
      }),
    updateWork: (make) =>
      serial(async () => {
        const next = await make(await readJson<SavedWork | null>(workFile, SavedWork, null));
        await save(workFile, next);
        return next;
      }),
  };
}
