// The preload (sandboxed, bundled to dist/preload/preload.cjs): window.api and nothing else.
// No raw ipcRenderer, no Node, no callbacks that leak the IPC event.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import { buildApi } from './api.ts';

contextBridge.exposeInMainWorld('api', buildApi(ipcRenderer, webUtils));
