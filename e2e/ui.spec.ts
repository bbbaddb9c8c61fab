// The UI as a whole: dark by default, every control keyboard-reachable with an accessible name,
// settings that persist, and web mode's refusals as a browser sees them.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { addPath, expect, row, shot, test } from './support/fixtures.ts';
import { makeBatchWithALargePhoto, makePhoto, makePhotos } from './support/photos.ts';

const INTERACTIVE = new Set(['button', 'checkbox', 'combobox', 'link', 'listbox', 'menuitem', 'radio', 'slider', 'spinbutton', 'switch', 'tab', 'textbox', 'searchbox', 'application']);

interface AXNode {
  role?: { value?: string };
  name?: { value?: string };
  ignored?: boolean;
  properties?: { name: string; value: { value?: unknown } }[];
}

/** Interactive nodes of the accessibility tree that have no name (what a screen reader would say). */
async function unnamed(page: import('@playwright/test').Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AXNode[] };
  await cdp.detach();
  return nodes
    .filter((n) => !n.ignored && INTERACTIVE.has(String(n.role?.value ?? '')))
    .filter((n) => !String(n.name?.value ?? '').trim())
    .map((n) => `${n.role?.value}`);
}

test('dark by default; every control has an accessible name and is reachable with Tab', async ({ app: page, work }) => {
  const file = path.join(work, 'portrait.jpg');
  await makePhoto(file, { seed: 2, width: 300, height: 400 });
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();

  // the execution provider in use, and why a GPU one was not used, as the engine reports them
  const info = await page.evaluate(async () => {
    const r = await fetch('/api/call/app.info', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: '{}' });
    return (await r.json()).result as { runtime: { requested: string; active: string; fallbackReason?: string } };
  });
  const badge = page.getByRole('status', { name: /Execution provider in use/ });
  await expect(badge).toContainText(info.runtime.active === 'cpu' ? 'Running on CPU' : 'Running on');
  if (info.runtime.fallbackReason) await expect(badge).toHaveAccessibleName(new RegExp(info.runtime.fallbackReason.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // Automatic on a machine without a usable GPU is normal: the reason is a tooltip, not a warning line
  if (info.runtime.requested === 'auto' && info.runtime.fallbackReason) {
    await expect(badge).toContainText('no GPU in use');
    await expect(badge).toHaveAttribute('title', info.runtime.fallbackReason);
    expect(await badge.evaluate((el) => el.classList.contains('fell'))).toBe(false);
  }

  expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
  expect(0.2126 * r + 0.7152 * g + 0.0722 * b).toBeLessThan(40);

  // all three kinds of step, so their controls are on screen too
  await page.getByRole('button', { name: '+ Upscale' }).click();
  await page.getByRole('button', { name: '+ Inpaint' }).click();

  for (const tab of ['Compare', 'Mask'] as const) {
    await page.getByRole('tab', { name: tab }).click();
    await expect(page.getByRole('tab', { name: tab })).toHaveAttribute('aria-selected', 'true');
    expect(await unnamed(page), `unnamed controls in ${tab}`).toEqual([]);

    // Tab visits every enabled control on screen, in order, and comes back around
    const expected = await page.evaluate(() => {
      const sel = 'button:not([disabled]), input:not([disabled]):not([type=hidden]):not([hidden]), select:not([disabled]), [tabindex="0"], a[href]';
      return [...document.querySelectorAll<HTMLElement>(sel)].filter((e) => e.offsetParent !== null && !e.closest('dialog:not([open])') && e.tabIndex >= 0).length;
    });
    const seen = new Set<string>();
    await page.locator('body').focus();
    for (let i = 0; i < expected + 25; i++) {
      await page.keyboard.press('Tab');
      const id = await page.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        if (!e || e === document.body) return '';
        const all = [...document.querySelectorAll('*')];
        return `${e.tagName}#${all.indexOf(e)}`;
      });
      if (id) seen.add(id);
    }
    expect(seen.size, `controls reached by Tab in ${tab}`).toBeGreaterThanOrEqual(expected);
  }

  // dialogs too
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
  expect(await unnamed(page)).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeHidden();
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');

  // single-key shortcuts can be turned off (WCAG 2.1.4: speech input types letters); then ? does nothing
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByRole('dialog', { name: 'Settings' }).getByLabel(/single-key shortcuts/).uncheck();
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByRole('dialog', { name: 'Settings' }).getByLabel(/single-key shortcuts/).check();
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');
});

test('settings persist: output folder, suffix, format, quality, execution provider, threads, tile size', async ({ app: page, work }) => {
  const out = path.join(work, 'out');
  const file = path.join(work, 'one.jpg');
  await makePhoto(file, { seed: 4, width: 200, height: 150 });
  // web mode writes only where the user chose: add the folder that will hold the output folder first
  await addPath(page, work);
  await expect(row(page, file)).toBeVisible();

  const original = await page.evaluate(async () => {
    const r = await fetch('/api/call/settings.get', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: '{}' });
    return (await r.json()).result;
  });
  try {
    await page.getByRole('button', { name: 'Settings' }).click();
    const dlg = page.getByRole('dialog', { name: 'Settings' });
    // what was said before it opened ("Added 1 photo") stays in the main window, not over the dialog's controls
    await expect(page.getByText('Added 1 photo.')).toHaveCount(1);
    await expect(dlg.locator('.notice')).toHaveCount(0);
    // a folder web mode may not write to is refused, and said inside the dialog, not behind it
    await dlg.getByLabel('Output folder').fill(path.join(path.dirname(work), 'elsewhere'));
    await dlg.getByLabel('Output folder').press('Tab');
    await expect(dlg.getByRole('alert').filter({ hasText: 'E_FORBIDDEN' })).toBeVisible();
    await dlg.getByRole('button', { name: 'Dismiss notification' }).first().click();
    // Copy diagnostics: version, runtime, models, and the error just shown, with its folders left out
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await dlg.getByRole('button', { name: 'Copy diagnostics' }).click();
    await expect(dlg.getByText('Diagnostics copied: paste them into your bug report.')).toBeVisible();
    const diag = dlg.getByLabel('Diagnostics text');
    await expect(diag).toHaveValue(/^Restora \d+\.\d+\.\d+ \(web mode\)/);
    await expect(diag).toHaveValue(/Runtime: cpu/);
    await expect(diag).toHaveValue(/restora-denoise · denoise · bundled/);
    await expect(diag).toHaveValue(/Errors shown \(1\):\n.*E_FORBIDDEN/);
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(await diag.inputValue());
    expect(copied).not.toContain(path.dirname(work)); // folder paths never leave
    await dlg.getByLabel('Output folder').fill(out);
    await dlg.getByLabel('Output folder').press('Tab');
    await dlg.getByLabel('File name suffix').fill('-e2e');
    await dlg.getByLabel('Format').selectOption('jpeg');
    await dlg.getByLabel('Quality').fill('80');
    await dlg.getByLabel('Execution provider').selectOption('cpu');
    await dlg.getByLabel('CPU threads').fill('1');
    await dlg.getByLabel('CPU threads').press('Tab');
    await dlg.getByLabel('Tile size').fill('256');
    await dlg.getByLabel('Tile size').press('Tab');
    await expect(dlg.getByText(/In use: CPU/)).toBeVisible();
    await expect(dlg.getByText(/running on the CPU/)).toHaveCount(0); // said once ("In use"), not twice
    await shot(page, 'settings', 'settings');
    await dlg.getByRole('button', { name: 'Close settings' }).click();
    // let the debounced save land, then reload: everything comes back from the engine's data folder
    await page.waitForTimeout(800);
    await page.reload();
    await expect(page.getByRole('heading', { name: /^Queue/ })).toBeVisible();
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect(dlg.getByLabel('Output folder')).toHaveValue(out);
    await expect(dlg.getByLabel('File name suffix')).toHaveValue('-e2e');
    await expect(dlg.getByLabel('Format')).toHaveValue('jpeg');
    await expect(dlg.getByLabel('Quality')).toHaveValue('80');
    await expect(dlg.getByLabel('Execution provider')).toHaveValue('cpu');
    await expect(dlg.getByLabel('CPU threads')).toHaveValue('1');
    await expect(dlg.getByLabel('Tile size')).toHaveValue('256');
    await dlg.getByRole('button', { name: 'Close settings' }).click();

    // and they are used: the output lands in the chosen folder, with the suffix and format (the
    // queue came back with the reload too)
    await expect(row(page, file)).toBeVisible();
    await page.getByRole('button', { name: 'Run on 1 photo' }).click();
    await expect(page.getByText(/^Finished · 1 done/)).toBeVisible({ timeout: 60_000 });
    expect(fs.existsSync(path.join(out, 'one-e2e.jpg'))).toBe(true);
  } finally {
    await page.evaluate(async (s) => {
      await fetch('/api/call/settings.set', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: JSON.stringify(s) });
    }, original);
  }
});

test('web mode, as a browser sees it: no token, other origins and unchosen files are refused', async ({ page, served, problems }) => {
  void problems;
  // no token: the page is not served
  const res = await page.goto(`${served.origin}/`);
  expect(res?.status()).toBe(401);
  expect(await page.textContent('body')).toContain('E_FORBIDDEN');

  // a page on another origin (another local port) tries the API and the event socket
  const evil = http.createServer((_req, r) => {
    r.writeHead(200, { 'Content-Type': 'text/html' });
    r.end(`<!doctype html><script>
      (async () => {
        const out = {};
        try { const x = await fetch('${served.origin}/api/call/app.info', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': 'guess' }, body: '{}' }); out.fetch = 'status ' + x.status; }
        catch (e) { out.fetch = 'blocked'; }
        try { const x = await fetch('${served.origin}/api/call/settings.set', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: '{"suffix":"-pwned"}' }); out.simple = x.type; }
        catch (e) { out.simple = 'blocked'; }
        out.ws = await new Promise((res) => { const w = new WebSocket('${served.origin.replace('http', 'ws')}/ws?token=${served.token}'); w.onopen = () => res('open'); w.onerror = () => res('refused'); });
        document.title = JSON.stringify(out);
      })();
    </script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (evil.address() as import('node:net').AddressInfo).port;
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect(page).toHaveTitle(/ws/, { timeout: 15_000 });
    const out = JSON.parse(await page.title()) as { fetch: string; simple: string; ws: string };
    expect(out.fetch).toBe('blocked');
    expect(out.ws).toBe('refused');
  } finally {
    evil.close();
  }
  // even with a leaked token a foreign origin is refused (checked on the server side), and the
  // simple no-cors POST above changed nothing
  await page.goto(served.url);
  await expect(page.getByRole('heading', { name: /^Queue/ })).toBeVisible();
  const check = await page.evaluate(async () => {
    const token = sessionStorage.getItem('restora.token') ?? '';
    const s = await fetch('/api/call/settings.get', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': token }, body: '{}' });
    const f = await fetch(`/files?path=${encodeURIComponent('/etc/passwd')}&token=${token}`);
    const t = await fetch(`/files?path=${encodeURIComponent('/etc/../etc/passwd')}&token=${token}`);
    return { suffix: (await s.json()).result.suffix, passwd: f.status, traversal: t.status };
  });
  expect(check.suffix).not.toBe('-pwned');
  expect(check.passwd).toBe(403);
  expect(check.traversal).toBe(403);
});

test('at the desktop app’s smallest window (720 x 600) the panels do not overlap and Run is reachable', async ({ app: page, work }) => {
  const file = path.join(work, 'small.jpg');
  await makePhoto(file, { seed: 9, width: 300, height: 200 });
  await page.setViewportSize({ width: 720, height: 600 });
  await addPath(page, file);
  await expect(row(page, file)).toBeVisible();
  const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
  const [left, viewer, recipe] = [await box('aside[aria-label="Photos"]'), await box('section[aria-label="Viewer"]'), await box('aside[aria-label="Recipe"]')];
  const apart = (a: { x: number; y: number; width: number; height: number }, b: typeof a) => a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1 || a.y + a.height <= b.y + 1 || b.y + b.height <= a.y + 1;
  expect(apart(left, viewer)).toBe(true);
  expect(apart(viewer, recipe)).toBe(true);
  expect(apart(left, recipe)).toBe(true);
  expect(viewer.width).toBeGreaterThan(400); // room for a photo
  const run = page.getByRole('button', { name: /^Run on 1 photo/ });
  await run.scrollIntoViewIfNeeded();
  await expect(run).toBeInViewport();
  // a done photo's row at 1000 px, whose queue column is narrowest beside the viewer: every action lies
  // wholly inside the column (Remove used to run past its edge)
  await run.click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });
  for (const width of [1000, 720]) {
    await page.setViewportSize({ width, height: 700 });
    const column = await box('aside[aria-label="Photos"]');
    const actions = row(page, file).locator('.actions').locator('button, a');
    await expect(actions).toHaveCount(4); // Compare, Mask, Download, Remove
    for (const b of await actions.all()) {
      const r = (await b.boundingBox())!;
      expect(r.x >= column.x && r.x + r.width <= column.x + column.width + 0.5, `${await b.textContent()} at ${width} px`).toBe(true);
    }
  }
});

test('a long queue scrolls in its own panel: the page stays the window, the photo shown stays on screen', async ({ app: page, work }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  const dir = path.join(work, 'card');
  const files = await makePhotos(dir, Array.from({ length: 40 }, (_, i) => `IMG_${3000 + i}.png`), { seed: 70, width: 160, height: 120 });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(40);
  const last = files[files.length - 1];
  await row(page, last).getByRole('button', { name: /^IMG_3039\.png/ }).click();
  // the page itself does not grow or scroll (it did from the 10th photo): the queue list scrolls
  expect(await page.evaluate(() => document.documentElement.scrollHeight)).toBeLessThanOrEqual(900);
  await expect(row(page, last)).toBeInViewport();
  await expect(page.getByRole('button', { name: 'Settings' })).toBeInViewport();
  await expect(page.getByRole('button', { name: /^Run on 40 photos/ })).toBeInViewport();
  const pane = (await page.getByTestId('compare-pane').boundingBox())!;
  expect(pane.y + pane.height).toBeLessThanOrEqual(900);
  // and the queue is not dimmed (only the recipe is, while the work from last time comes back)
  expect(await page.locator('aside[aria-label="Photos"]').evaluate((el) => getComputedStyle(el).opacity)).toBe('1');
});

test('the keyboard keeps its place: arrows move between queue rows, S keeps the focus in the viewer, Cancel batch does not drop it', async ({ app: page, work, served }) => {
  const dir = path.join(work, 'keys');
  // a large last one: the batch is still running when Cancel is pressed
  const files = await makeBatchWithALargePhoto(dir, ['k1.png', 'k2.png', 'k3.png', 'k4.png'], 'k4.png', { seed: 80, shipped: served.shipped });
  await addPath(page, dir);
  await expect(page.locator('li[data-path]')).toHaveCount(4);
  const main = (f: string) => row(page, f).locator('button.main');
  await main(files[0]).focus();
  await page.keyboard.press('ArrowDown');
  await expect(main(files[1])).toBeFocused();
  await page.keyboard.press('End');
  await expect(main(files[3])).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(main(files[2])).toBeFocused();
  await page.keyboard.press('Home');
  await expect(main(files[0])).toBeFocused();
  // S swaps slider and side by side: the focus stays in the viewer (it fell to the page)
  await page.getByTestId('compare-pane').focus();
  await page.keyboard.press('s');
  await expect(page.getByTestId('compare-pane-after')).toBeVisible();
  await expect(page.getByTestId('compare-pane')).toBeFocused();
  await page.keyboard.press('s');
  await expect(page.getByTestId('after-layer')).toBeVisible();
  await expect(page.getByTestId('compare-pane')).toBeFocused();
  // Cancel batch pressed with Enter: it stays focused while the batch stops, and then Run has the focus
  await page.getByRole('button', { name: /^Run on 4 photos/ }).click();
  const cancel = page.getByRole('button', { name: 'Cancel batch' }).first();
  await expect(cancel).toHaveAttribute('aria-disabled', 'false'); // the engine has named the batch
  await cancel.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: /^Cancelled · / })).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole('button', { name: /^Run on \d photos?/ })).toBeFocused();
});

test('Clear all can be undone until a photo is added', async ({ app: page, work }) => {
  const files = await makePhotos(path.join(work, 'c'), ['c1.png', 'c2.png'], { seed: 95, width: 160, height: 120 });
  await addPath(page, path.join(work, 'c'));
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await row(page, files[1]).locator('button.main').click();
  await page.getByRole('button', { name: /^Clear all/ }).click();
  await expect(page.locator('li[data-path]')).toHaveCount(0);
  const cleared = page.getByRole('status').filter({ hasText: 'Cleared 2 photos' });
  await expect(cleared).toBeVisible();
  await cleared.getByRole('button', { name: 'Undo' }).click();
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await expect(row(page, files[1])).toHaveClass(/selected/);
  // cleared again and a photo added: the undo is gone
  await page.getByRole('button', { name: /^Clear all/ }).click();
  await addPath(page, files[0]);
  await expect(page.locator('li[data-path]')).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Undo' })).toHaveCount(0);
});

test('a notice never covers a control: it sits at the foot of the recipe panel, whose steps scroll above it and the pinned Run', async ({ app: page, work }) => {
  const file = path.join(work, 'notice.jpg');
  await makePhoto(file, { seed: 10, width: 300, height: 200 });
  await page.setViewportSize({ width: 1280, height: 720 });
  await addPath(page, file);
  await page.getByRole('button', { name: /^Run on 1 photo/ }).click();
  await expect(row(page, file).getByTestId('status')).toHaveText('Done', { timeout: 60_000 });
  // web mode opens no folder: it names it, with Copy path, and such a notice stays until dismissed
  await page.getByRole('button', { name: 'Open output folder' }).click();
  for (const task of ['Upscale', 'Inpaint', 'Upscale', 'Denoise']) await page.getByRole('button', { name: `+ ${task}` }).click();
  const notices = page.locator('[aria-label="Notifications"]');
  await expect(notices.getByRole('button', { name: 'Copy path' })).toBeVisible();
  const noticeBox = (await notices.boundingBox())!;
  expect(noticeBox.height).toBeGreaterThan(30);
  const recipe = page.locator('aside[aria-label="Recipe"]');
  const controls = recipe.locator('button:visible, select:visible, input:visible').and(page.locator(':not([aria-label="Notifications"] *)'));
  const n = await controls.count();
  expect(n).toBeGreaterThan(20);
  for (let i = 0; i < n; i++) {
    const c = controls.nth(i);
    // scrolled into view as Tab scrolls a control (the panel's scroll padding keeps it above the pinned Run)
    await c.evaluate((el) => el.scrollIntoView({ block: 'nearest' }));
    const b = (await c.boundingBox())!;
    // what lies at the control's centre is the control (or its label), and the notice is apart from it
    const onTop = await c.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return hit !== null && (el === hit || el.contains(hit) || (hit.closest('label')?.contains(el) ?? false));
    });
    const name = (await c.getAttribute('aria-label')) ?? (await c.textContent());
    expect(onTop, `control ${i} (${name})`).toBe(true);
    expect(b.y + b.height <= noticeBox.y + 1 || b.y >= noticeBox.y + noticeBox.height - 1 || b.x + b.width <= noticeBox.x + 1, `control ${i} (${name})`).toBe(true);
  }
  // Run stays in sight wherever the steps are scrolled, with the notice shown
  for (const top of [0, 1e6]) {
    await recipe.locator('.recipe-scroll').evaluate((el, t) => el.scrollTo(0, t), top);
    const run = page.getByRole('button', { name: /^Run on 1 photo/ });
    await expect(run).toBeInViewport({ ratio: 1 });
    expect(await run.evaluate((el) => { const r = el.getBoundingClientRect(); return el.contains(document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); })).toBe(true);
  }
  await shot(page, 'notice-docked');
  // a narrow window (the recipe under the viewer) has no room to give: the notice floats over the foot
  // of the queue, and the viewer keeps its size
  await page.setViewportSize({ width: 720, height: 600 });
  const viewer = (await page.locator('section[aria-label="Viewer"]').boundingBox())!;
  const narrow = (await notices.boundingBox())!;
  expect(narrow.x + narrow.width).toBeLessThanOrEqual(viewer.x + 1);
  // (the lasting one: "1 photo restored" may still be there too, until it times out)
  await notices.getByRole('status').filter({ hasText: 'Output folder' }).getByRole('button', { name: 'Dismiss notification' }).click();
  await expect(notices.getByRole('button', { name: 'Copy path' })).toHaveCount(0);
  expect((await page.locator('section[aria-label="Viewer"]').boundingBox())!.height).toBe(viewer.height);
});

test('a model left out for a bad card is named with why, not just missing', async ({ app: page, served }) => {
  const bad = path.join(served.dataDir, 'models', 'my-denoise');
  fs.mkdirSync(bad, { recursive: true });
  fs.writeFileSync(path.join(bad, 'card.json'), '{ "id": "my-denoise", ');
  try {
    await page.reload();
    const notice = page.getByRole('alert').filter({ hasText: 'A model was not loaded: card.json is not valid JSON' });
    await expect(notice).toBeVisible();
    await expect(notice.locator('code')).toContainText(path.join('my-denoise', 'card.json'));
  } finally {
    fs.rmSync(bad, { recursive: true, force: true });
  }
});
