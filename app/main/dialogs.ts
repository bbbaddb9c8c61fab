// Open dialogs for the three things a user picks. What they pick is recorded by main as chosen
// (the only paths files.add accepts from the window) and granted by the host.
import type { OpenDialogOptions } from 'electron';

export type DialogPurpose = 'files' | 'folder' | 'output';

/** Image types the engine reads (RAW is refused by the engine, so not offered). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'tif', 'tiff', 'webp', 'heic', 'heif', 'avif'];

export function dialogOptions(purpose: DialogPurpose): OpenDialogOptions {
  switch (purpose) {
    case 'files':
      return { title: 'Open photos', properties: ['openFile', 'multiSelections'], filters: [{ name: 'Images', extensions: IMAGE_EXTENSIONS }] };
    case 'folder':
      return { title: 'Open a folder of photos', properties: ['openDirectory', 'multiSelections'] };
    case 'output':
      return { title: 'Choose where restored photos go', buttonLabel: 'Use this folder', properties: ['openDirectory', 'createDirectory', 'promptToCreate'] };
  }
}

export function isDialogPurpose(v: unknown): v is DialogPurpose {
  return v === 'files' || v === 'folder' || v === 'output';
}
