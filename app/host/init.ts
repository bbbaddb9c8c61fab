// What main and the host agree on outside the contract. Light on imports (zod only): main's bundle
// takes it, and main must never pull the engine in.
import { z } from 'zod';

/** What main sends with the port when it starts (or restarts) the host. */
export const HostInit = z.object({
  dataDir: z.string().min(1),
  modelsDir: z.string().optional(),
  userModelsDir: z.string().optional(),
  version: z.string(),
  /** Real paths main has granted so far: a restarted host picks up where the last one stopped. */
  grants: z.array(z.string()).default([]),
  /** Folders the user chose (dialog, drop). */
  dirs: z.array(z.string()).default([]),
});
export type HostInit = z.input<typeof HostInit>;

/** Calls only main may make (not in the contract, so main's relay never forwards them from the UI). */
export const HOST_SAVE_WINDOW_STATE = 'host.saveWindowState';
export const WINDOW_STATE_FILE = 'window-state.json';
