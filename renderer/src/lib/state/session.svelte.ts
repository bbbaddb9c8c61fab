// App-wide state: what the engine says about itself, models, settings, presets, notices.
import {
  RestoraError,
  Settings,
  type CallResult,
  type ModelInfo,
  type Preset,
  type RestoraApi,
  type SettingsPatch,
} from '../../../../app/contract/index.ts';
import { SettingsSync } from '../settings-sync.ts';

export type AppInfo = CallResult<'app.info'>;

export interface Notice {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
  /** a path the user may want to copy (web mode "open output folder") */
  path?: string;
}

let noticeId = 1;

export class SessionState {
  readonly api: RestoraApi;
  readonly mode: 'electron' | 'web';
  info = $state<AppInfo | null>(null);
  models = $state.raw<ModelInfo[]>([]);
  settings = $state<Settings>(Settings.parse({}));
  presets = $state.raw<Preset[]>([]);
  notices = $state<Notice[]>([]);
  /** every error this window showed, oldest first (the last 50), for Copy diagnostics */
  errorLog = $state.raw<{ at: Date; text: string }[]>([]);
  /** web mode: 'lost' while reconnecting, 'expired' once the server refuses this page (restarted) */
  connection = $state<'connected' | 'lost' | 'expired'>('connected');
  connected = $derived(this.connection === 'connected');
  loading = $state(true);
  fatal = $state<string | null>(null);
  readonly #settingsSync: SettingsSync;

  constructor(api: RestoraApi, mode: 'electron' | 'web') {
    this.api = api;
    this.mode = mode;
    this.#settingsSync = new SettingsSync(api, this);
  }

  async init(): Promise<void> {
    try {
      const [info, models, , presets] = await Promise.all([
        this.api.call('app.info', {}),
        this.api.call('models.list', {}),
        this.#settingsSync.load(),
        this.api.call('presets.list', {}),
      ]);
      this.info = info;
      this.models = models;
      this.presets = presets;
      // a model whose folder was left out (a card that is not valid, a file missing) would otherwise just look
      // uninstalled: say which and why, once, until dismissed (a hint: its failure is not the window's)
      try {
        for (const k of await this.api.call('models.skipped', {})) this.notify(`A model was not loaded: ${k.reason}`, 'error', k.path);
      } catch {
        // an older engine without the call, or a hiccup: the models that did load are what matters
      }
    } catch (e) {
      this.fatal = RestoraError.from(e).message;
    } finally {
      this.loading = false;
    }
  }

  async refreshInfo(): Promise<void> {
    try {
      this.info = await this.api.call('app.info', {});
    } catch (e) {
      this.error(e);
    }
  }

  notify(text: string, kind: Notice['kind'] = 'info', path?: string): void {
    const n: Notice = { id: noticeId++, kind, text, ...(path ? { path } : {}) };
    // the same message again replaces the old one instead of stacking up
    // one passing message at a time (a new one replaces the last), errors stay until dismissed: a
    // stack of notices would cover the Run buttons under them
    const keep = this.notices.filter((o) => (o.text !== text || o.path !== path) && (o.kind === 'error' || o.path !== undefined || kind === 'error'));
    this.notices = [...keep.slice(-3), n];
    if (kind === 'error') this.logError(text);
    if (kind !== 'error' && !path) setTimeout(() => this.dismiss(n.id), 6000);
  }

  /** Remember an error the window showed (inline or as a notice), for Copy diagnostics. */
  logError(text: string): void {
    this.errorLog = [...this.errorLog.slice(-49), { at: new Date(), text }];
  }

  error(e: unknown): void {
    const err = RestoraError.from(e);
    this.notify(`${err.code}: ${err.message}`, 'error');
  }

  dismiss(id: number): void {
    this.notices = this.notices.filter((n) => n.id !== id);
  }

  /** Change settings now in the UI, persist shortly after (typing in a field sends one call). */
  async updateSettings(patch: SettingsPatch, delay = 300): Promise<void> {
    const sent = await this.#settingsSync.update(patch, delay);
    if (sent && (sent.ep !== undefined || sent.threads !== undefined)) await this.refreshInfo();
  }

  async savePreset(preset: Preset): Promise<void> {
    try {
      const replaced = this.presets.some((p) => p.name === preset.name);
      this.presets = await this.api.call('presets.save', preset);
      this.notify(`Preset “${preset.name}” ${replaced ? 'replaced' : 'saved'}`, 'success');
    } catch (e) {
      this.error(e);
    }
  }

  async deletePreset(name: string): Promise<void> {
    try {
      this.presets = await this.api.call('presets.delete', { name });
    } catch (e) {
      this.error(e);
    }
  }

  modelName(id: string | undefined): string {
    if (!id) return '';
    return this.models.find((m) => m.id === id)?.name ?? id;
  }
}
