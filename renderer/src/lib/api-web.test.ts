import { describe, expect, it } from 'vitest';
import { takeToken } from './api-web.ts';

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
