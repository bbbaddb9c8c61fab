// IPC channel names shared by main and preload. Imports nothing: the sandboxed preload bundle may
// only require 'electron'.
export const IPC = { call: 'restora:call', event: 'restora:event', chosen: 'restora:chosen' } as const;
