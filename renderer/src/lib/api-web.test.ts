import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWebApi, takeToken, type Connection } from './api-web.ts';

function fakeStorage(): Storage {
  const m = new Map<string, string>();
  return {
    get length() {
      return m.size;
    },
    clear: () => m.clear(),
    getItem: (k) => m.get(k) ?? null,
    key: (i) => [...m.keys()][i] ?? null,
    removeItem: (k) => void m.delete(k),
    setItem: (k, v) => void m.set(k, v),
  };
}

describe('web-mode token', () => {
  it('takes the token from the printed URL, keeps it for reloads and strips it from the address bar', () => {
    const storage = fakeStorage();
    const replaced: string[] = [];
    const history = { state: null, replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) } as unknown as History;
    const loc = { href: 'http://127.0.0.1:5000/?token=abc_DEF-123&x=1#h' } as Location;
    expect(takeToken(loc, storage, history)).toBe('abc_DEF-123');
    expect(replaced).toEqual(['/?x=1#h']);
    // a reload without the query still has it
    expect(takeToken({ href: 'http://127.0.0.1:5000/' } as Location, storage, history)).toBe('abc_DEF-123');
    expect(takeToken({ href: 'http://127.0.0.1:5000/' } as Location, fakeStorage(), history)).toBe('');
  });
});

/** A WebSocket stand-in: each one made is kept; a test opens or closes it. */
class FakeSocket {
  static made: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  close() {
    this.onclose?.();
  }
}

describe('web-mode connection', () => {
  afterEach(() => {
    vi.useRealTimers();
    FakeSocket.made = [];
  });

  async function setup(answer: () => Promise<Response>) {
    vi.useFakeTimers();
    const states: Connection[] = [];
    const api = createWebApi({ token: 't', base: 'http://127.0.0.1:1', WebSocket: FakeSocket as unknown as typeof WebSocket, fetch: vi.fn(answer) as unknown as typeof fetch });
    api.onConnection((c) => states.push(c));
    FakeSocket.made[0].onopen?.();
    FakeSocket.made[0].close(); // the server goes away
    await vi.advanceTimersByTimeAsync(1000);
    return { api, states };
  }

  it('a server that is down: lost, and it keeps trying to reconnect', async () => {
    const { api, states } = await setup(() => Promise.reject(new TypeError('fetch failed')));
    expect(states).toEqual(['connected', 'lost']);
    expect(FakeSocket.made).toHaveLength(2); // a new attempt
    FakeSocket.made[1].onopen?.();
    expect(states.at(-1)).toBe('connected');
    api.close();
  });

  it('a server that answers but refuses the token was restarted: expired, and no more attempts', async () => {
    const { api, states } = await setup(() => Promise.resolve(new Response('{}', { status: 401 })));
    expect(states).toEqual(['connected', 'lost', 'expired']);
    expect(FakeSocket.made).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.made).toHaveLength(1);
    api.close();
  });
});
