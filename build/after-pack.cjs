// electron-builder afterPack hook: flip Electron's fuses in the packed binary, before signing (so
// the signature covers them). `npx @electron/fuses read --app <path>` shows the result.
// CommonJS on purpose: electron-builder require()s hooks.
/* eslint-disable @typescript-eslint/no-require-imports */
const path = require('node:path');

/** Fuse settings per platform (true = on). Exported for the packaging test. */
function fuseSettings(platform) {
  return {
    RunAsNode: false, // ELECTRON_RUN_AS_NODE would turn the signed app into a plain node; we use utilityProcess
    EnableCookieEncryption: true,
    EnableNodeOptionsEnvironmentVariable: false, // no NODE_OPTIONS code injection
    EnableNodeCliInspectArguments: false, // no --inspect debugger port
    // Electron validates app.asar against the hash electron-builder embeds: macOS and Windows only
    EnableEmbeddedAsarIntegrityValidation: platform === 'darwin' || platform === 'win32',
    OnlyLoadAppFromAsar: true, // no loose app/ folder beside the asar can take over
    LoadBrowserProcessSpecificV8Snapshot: false,
    GrantFileProtocolExtraPrivileges: false, // the UI is served by restora://, never file://
  };
}

/** The Electron binary inside the packed app folder. */
function electronBinary(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  const name = packager.appInfo.productFilename;
  if (electronPlatformName === 'darwin' || electronPlatformName === 'mas') return path.join(appOutDir, `${name}.app`);
  if (electronPlatformName === 'win32') return path.join(appOutDir, `${name}.exe`);
  return path.join(appOutDir, packager.executableName);
}

async function afterPack(context) {
  const { flipFuses, FuseVersion, FuseV1Options } = require('@electron/fuses');
  const settings = fuseSettings(context.electronPlatformName);
  const config = { version: FuseVersion.V1, strictlyRequireAllFuses: true };
  for (const [name, on] of Object.entries(settings)) {
    if (!(name in FuseV1Options)) throw new Error(`unknown Electron fuse ${name}`);
    config[FuseV1Options[name]] = on;
  }
  // arm64 macOS refuses unsigned binaries: re-sign ad hoc after editing (real signing comes later)
  config.resetAdHocDarwinSignature = context.electronPlatformName === 'darwin' && context.arch === 3; // Arch.arm64
  await flipFuses(electronBinary(context), config);
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.fuseSettings = fuseSettings;
module.exports.electronBinary = electronBinary;
