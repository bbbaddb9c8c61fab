// Settings edits as plain logic, kept apart from the rune class so the rules are unit-tested: a
// change shows at once and is sent after a short debounce. Replies to overlapping calls can come
// back in any order, and none may put back a value the user has changed since its call was sent.
import type { RestoraApi, Settings, SettingsPatch } from '../../../app/contract/index.ts';

/** Where the settings are shown (the session's state) and how a refused change is reported. */
export interface SettingsView {
  settings: Settings;
  error(e: unknown): void;
}

export class SettingsSync {
  readonly #api: RestoraApi;
  readonly #view: SettingsView;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** callers waiting for the next send (a change within the delay joins the one before it) */
  #waiting: ((sent: SettingsPatch | null) => void)[] = [];
  /** changed in the UI, not sent yet */
  #pending: SettingsPatch = {};
  /** sent, not answered yet, by call number (oldest first) */
  #inFlight = new Map<number, SettingsPatch>();
  #calls = 0;
  /** the number of the call whose reply is shown */
  #shown = 0;

  constructor(api: RestoraApi, view: SettingsView) {
    this.#api = api;
    this.#view = view;
  }

  /**
   * Show `patch` now and send it, with any other change not sent yet, after `delay` ms. Resolves
   * when the host has answered the call that carried it: with what that call sent, or null when
   * the host refused it (already reported).
   */
  update(patch: SettingsPatch, delay: number): Promise<SettingsPatch | null> {
    this.#view.settings = { ...this.#view.settings, ...patch } as Settings;
    this.#pending = { ...this.#pending, ...patch };
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const waiting = this.#waiting;
      this.#waiting = [];
      void this.#send().then((sent) => waiting.forEach((resolve) => resolve(sent)));
    }, delay);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Read the host's settings (at start-up), shown like a reply: a change made meanwhile stays. */
  async load(): Promise<void> {
    const n = ++this.#calls;
    this.#show(n, await this.#api.call('settings.get', {}));
  }

  async #send(): Promise<SettingsPatch | null> {
    const p = this.#pending;
    const n = ++this.#calls;
    this.#pending = {};
    this.#inFlight.set(n, p);
    try {
      const reply = await this.#api.call('settings.set', p);
      this.#inFlight.delete(n);
      this.#show(n, reply);
      return p;
    } catch (e) {
      this.#inFlight.delete(n);
      this.#view.error(e);
      // put back what the host has instead of the refused value
      const get = ++this.#calls;
      try {
        this.#show(get, await this.#api.call('settings.get', {}));
      } catch {
        // keep what we have
      }
      return null;
    }
  }

  /**
   * Show the host's answer to call `n` under the changes it has not answered yet. The host applies
   * settings.set calls in the order sent, so the answer to a later call already holds this one's:
   * an answer older than the one shown is dropped.
   */
  #show(n: number, host: Settings): void {
    if (n < this.#shown) return;
    this.#shown = n;
    this.#view.settings = Object.assign({ ...host }, ...this.#inFlight.values(), this.#pending);
  }
}
