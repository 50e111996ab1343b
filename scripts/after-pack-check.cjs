// electron-builder afterPack hook: refuses to produce an installer whose app.asar has no engine
// build for the target OS and architecture (npm installs only the build machine's variants, so an
// x64 .dmg built on an arm64 Mac would otherwise ship without one), or that still carries CUDA.
const path = require('node:path');
const asar = require('@electron/asar');

const ARCH_NAMES = { 0: 'ia32', 1: 'x64', 2: 'armv7l', 3: 'arm64', 4: 'universal' };

/** Throws with a clear message when the packed app cannot run the engine on its target. */
function checkPackedEngine({ resourcesDir, platform, arch }) {
  const files = asar.listPackage(path.join(resourcesDir, 'app.asar'), { isPack: false }).map((f) => f.replace(/\\/g, '/'));
  const has = (pkg) => files.includes(`/node_modules/${pkg}/package.json`);
  const cpu = `@fugood/node-llama-${platform}-${arch}`;
  if (!has('@fugood/llama.node') || !has(cpu)) {
    throw new Error(
      `app.asar has no ${cpu}: this build would have no engine. Build on a ${platform}-${arch} machine ` +
        `(npm installs only the host's engine builds), or install that package before packaging.`,
    );
  }
  const cuda = files.find((f) => /^\/node_modules\/@fugood\/node-llama-[^/]+-cuda\//.test(f));
  if (cuda) throw new Error(`app.asar contains a CUDA engine build (${cuda}); it is not shipped (docs/PACKAGING.md)`);
}

async function afterPack(context) {
  const platform = context.electronPlatformName;
  const resourcesDir =
    platform === 'darwin' || platform === 'mas'
      ? path.join(context.appOutDir, `${context.packager.appInfo.productFilename}.app`, 'Contents', 'Resources')
      : path.join(context.appOutDir, 'resources');
  checkPackedEngine({ resourcesDir, platform: platform === 'mas' ? 'darwin' : platform, arch: ARCH_NAMES[context.arch] ?? String(context.arch) });
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.checkPackedEngine = checkPackedEngine;
