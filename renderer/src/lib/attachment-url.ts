// Where the renderer loads stored images from. Headless: the server's authenticated route,
// relative to the page. Electron: the custom protocol the main process registers (it resolves the
// id with resolveAttachmentFile from electron/attachments, so only that folder is reachable).
export const ELECTRON_ATTACHMENT_SCHEME = 'firellava-attachment';

export function attachmentUrl(id: string, variant: 'full' | 'thumb' = 'full'): string {
  const suffix = variant === 'thumb' ? '/thumb' : '';
  if (typeof window !== 'undefined' && window.api) return `${ELECTRON_ATTACHMENT_SCHEME}://image/${id}${suffix}`;
  return `attachments/${id}${suffix}`;
}
