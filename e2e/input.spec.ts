// Web mode input: the file picker, the folder picker and a drop all end up in the queue (the
// browser cannot give paths, so the server keeps a copy and the copy is what gets processed;
// the user's file is only read).
import fs from 'node:fs';
import path from 'node:path';
import { addPath, expect, shot, test } from './support/fixtures.ts';
import { makePhoto, snapshot } from './support/photos.ts';

test('file picker, folder picker and drag-and-drop add photos to the queue', async ({ app: page, work, served }) => {
  const a = path.join(work, 'picked', 'a.jpg');
  const b = path.join(work, 'picked', 'b.png');
  await makePhoto(a, { seed: 31, width: 160, height: 120 });
  await makePhoto(b, { seed: 32, width: 160, height: 120 });
  const folder = path.join(work, 'trip');
  await makePhoto(path.join(folder, 'day1', 'c.jpg'), { seed: 33, width: 160, height: 120 });
  await makePhoto(path.join(folder, 'd.jpg'), { seed: 34, width: 160, height: 120 });
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'not a photo');
  const before = snapshot([a, b]);

  // "Choose files…" opens the picker; what is picked is added
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Choose files…' }).click();
  await (await chooser).setFiles([a, b]);
  await expect(page.locator('li[data-path]')).toHaveCount(2);
  await expect(page.locator('li[data-path$="a.jpg"]')).toBeVisible();

  // "Choose folder…": the folder's photos, sub-folders included, nothing else
  const folderChooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await (await folderChooser).setFiles(folder);
  await expect(page.locator('li[data-path]')).toHaveCount(4);
  await expect(page.locator('li[data-path$="c.jpg"]')).toBeVisible();
  await expect(page.locator('li[data-path$="notes.txt"]')).toHaveCount(0);

  // a drop of a file
  const bytes = fs.readFileSync(b).toString('base64');
  const dt = await page.evaluateHandle((b64) => {
    const d = new DataTransfer();
    const bin = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    d.items.add(new File([bin], 'dropped.png', { type: 'image/png' }));
    return d;
  }, bytes);
  const zone = page.getByRole('region', { name: /Add photos/ });
  await zone.dispatchEvent('dragenter', { dataTransfer: dt });
  await zone.dispatchEvent('dragover', { dataTransfer: dt });
  await zone.dispatchEvent('drop', { dataTransfer: dt });
  await expect(page.locator('li[data-path$="dropped.png"]')).toBeVisible();
  await expect(page.locator('li[data-path]')).toHaveCount(5);

  // the copies live in the server's data folder; the user's files were only read
  const paths = await page.locator('li[data-path]').evaluateAll((els) => els.map((e) => e.getAttribute('data-path') ?? ''));
  for (const p of paths) expect(p.startsWith(path.join(served.dataDir, 'uploads'))).toBe(true);
  const after = snapshot([a, b]);
  expect(after.get(a)).toEqual(before.get(a));
  expect(after.get(b)).toEqual(before.get(b));
  await shot(page, 'input');
});

test('a path that does not exist is reported, not added', async ({ app: page, work }) => {
  await page.getByLabel('Path to a photo or folder').fill(path.join(work, 'nowhere', 'x.jpg'));
  await page.getByRole('button', { name: 'Add', exact: true }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'could not be added' });
  await expect(alert).toBeVisible();
  await expect(alert).toContainText('E_NOT_FOUND');
  await expect(page.locator('li[data-path]')).toHaveCount(0);
});

test('adding a folder by path says what it left out: files that are not photos, and sub-folders', async ({ app: page, work }) => {
  const card = path.join(work, 'card');
  await makePhoto(path.join(card, 'IMG_0001.jpg'), { seed: 41, width: 160, height: 120 });
  await makePhoto(path.join(card, 'DCIM', 'IMG_0002.jpg'), { seed: 42, width: 160, height: 120 });
  fs.writeFileSync(path.join(card, 'IMG_0001.CR2'), 'raw');
  fs.writeFileSync(path.join(card, 'IMG_0003.CR2'), 'raw');
  await page.getByRole('checkbox', { name: 'Include subfolders' }).uncheck();
  await addPath(page, card);
  await expect(page.locator('li[data-path]')).toHaveCount(1);
  await expect(page.getByText('Added 1 photo. Left out 2 files that are not images Restora reads (.cr2 2) and 1 sub-folder (tick Include subfolders to add it).')).toBeVisible();
  // the setting is kept in the server's data folder, which the worker's later tests share
  await page.getByRole('checkbox', { name: 'Include subfolders' }).check();
  await expect.poll(async () => (await page.evaluate(async () => {
    const r = await fetch('/api/call/settings.get', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Restora-Token': sessionStorage.getItem('restora.token') ?? '' }, body: '{}' });
    return (await r.json()).result.recursive;
  }))).toBe(true);
});
