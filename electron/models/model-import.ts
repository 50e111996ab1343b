// Import of a local pair: each file validated (so the message names the wrong one), then copied,
// hard-linked or symlinked into the models folder and registered.
import { copyFile, link, mkdir, realpath, rename, rm, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { validateModelFile, validateModelPair } from '../engine/model-validator';
import type { ImportRequest, InstalledModel } from '../shared/contracts/models';
import { checkDiskSpace, type FreeSpaceFn } from './disk-space';
import type { ModelLibrary } from './model-library';
import { pairFileNames, pairId, sha256File } from './model-files';
import { ModelManagerError } from './model-manager-error';
import type { ModelRegistry, RegistryFile } from './registry';

export async function importLocal(registry: ModelRegistry, library: ModelLibrary, freeSpace: FreeSpaceFn, req: ImportRequest): Promise<InstalledModel> {
  const modelPath = path.resolve(req.modelPath);
  const mmprojPath = path.resolve(req.mmprojPath);
  for (const [p, role] of [
    [modelPath, 'Model'],
    [mmprojPath, 'Vision projector'],
  ] as const) {
    const s = await stat(p).catch(() => null);
    if (!s?.isFile()) throw new ModelManagerError('NOT_FOUND', 'FILE_NOT_FOUND', `${role} file not found: ${p}`);
  }
  // Each file on its own first, so the message names the file that is wrong.
  const m = await validateModelFile(modelPath, 'model');
  if (!m.ok) throw new ModelManagerError('MODEL_INVALID', 'MODEL_INVALID', m.error.message);
  const v = await validateModelPair({ model: modelPath, mmproj: mmprojPath });
  if (!v.ok) throw new ModelManagerError('MODEL_INVALID', 'PAIR_INVALID', v.error.message);

  const mode = req.mode ?? 'copy';
  const names = pairFileNames(path.basename(modelPath), path.basename(mmprojPath));
  const id = pairId(names.model, await realpath(modelPath), await realpath(mmprojPath));
  if (await registry.get(id)) throw new ModelManagerError('INVALID_INPUT', 'ALREADY_INSTALLED', `This pair is already installed as "${id}"`);
  const dir = registry.dirOf(id);
  if (mode === 'copy') {
    const sizes = (await stat(modelPath)).size + (await stat(mmprojPath)).size;
    await mkdir(registry.modelsDir, { recursive: true });
    const problem = await checkDiskSpace(registry.modelsDir, sizes, freeSpace);
    if (problem) throw new ModelManagerError('INVALID_INPUT', 'DISK_FULL', problem.replace('the download needs', 'the copy needs'));
  }
  await mkdir(dir, { recursive: true });
  const files: RegistryFile[] = [];
  try {
    for (const [role, src, name] of [
      ['model', modelPath, names.model],
      ['mmproj', mmprojPath, names.mmproj],
    ] as const) {
      const dest = path.join(dir, name);
      await unlink(dest).catch(() => undefined);
      if (mode === 'copy') {
        // Temp name + rename: a crash mid-copy never leaves a file that looks complete.
        await copyFile(src, `${dest}.part`);
        await rename(`${dest}.part`, dest);
      } else if (mode === 'hardlink') {
        try {
          await link(src, dest);
        } catch (err) {
          throw new ModelManagerError(
            'INVALID_INPUT',
            'LINK_FAILED',
            `Cannot hard-link ${src} into ${dir} (${(err as NodeJS.ErrnoException).code}): hard links only work on the same drive. Choose copy or symbolic link.`,
          );
        }
      } else {
        await symlink(src, dest);
      }
      files.push({ role, fileName: name, url: null, size: (await stat(src)).size, expectedSha256: null, sha256: mode === 'copy' ? await sha256File(dest) : null, linked: mode });
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  await library.register(id, (d) => {
    d.models.push({ id, name: req.name ?? v.value.model.name, source: 'import', licenseUrl: null, files, complete: true, addedAt: new Date().toISOString() });
  });
  return library.get(id);
}
