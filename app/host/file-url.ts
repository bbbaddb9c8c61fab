// How the Electron renderer names a file: one origin for the UI and the files it shows
// (restora://app/...), so images, fetch() and canvas reads stay same-origin. Files are
// restora://app/files?path=<encodeURIComponent(absolute path)>, the same shape as web mode's
// /files?path=..., decoded exactly once by URLSearchParams.
export const SCHEME = 'restora';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${SCHEME}://${APP_HOST}`;
export const FILES_PATH = '/files';

/** `version` (e.g. the file's mtime) changes the URL when a preview is rewritten under the same name. */
export function fileUrl(absPath: string, version?: number): string {
  return `${APP_ORIGIN}${FILES_PATH}?path=${encodeURIComponent(absPath)}${version !== undefined ? `&v=${version}` : ''}`;
}

/** True if `url` is on the app's own origin (restora://app). WHATWG gives custom schemes the origin 'null', so compare parts. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '' && u.port === '';
  } catch {
    return false;
  }
}
