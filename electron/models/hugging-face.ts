// Hugging Face addresses and the access token. The token is sent to huggingface.co only (the
// downloader drops it on redirects to the CDN) and never written to logs or the registry.
export const HF_ORIGIN = 'https://huggingface.co';

/** https://huggingface.co/<repo>/resolve/<revision>/<file>, each path segment encoded. */
export function hfFileUrl(repo: string, file: string, revision = 'main'): string {
  const enc = (p: string): string => p.split('/').map(encodeURIComponent).join('/');
  return `${HF_ORIGIN}/${enc(repo)}/resolve/${encodeURIComponent(revision)}/${enc(file)}`;
}

/** The repo page where a gated license is accepted, for a resolve URL; null for other hosts. */
export function hfRepoPage(url: string): string | null {
  try {
    const u = new URL(url);
    if (u.hostname !== 'huggingface.co' && !u.hostname.endsWith('.huggingface.co')) return null;
    const [owner, name] = u.pathname.split('/').filter(Boolean);
    return owner && name ? `${HF_ORIGIN}/${owner}/${name}` : null;
  } catch {
    return null;
  }
}

export function isHfUrl(url: string): boolean {
  return hfRepoPage(url) !== null;
}

/** Headless token: --hf-token, else HF_TOKEN, else HUGGING_FACE_HUB_TOKEN. */
export function hfTokenFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const t = (flag ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN ?? '').trim();
  return t.length > 0 ? t : null;
}

/** Authorization header for a URL when it goes to Hugging Face and a token is known. */
export function authHeaders(url: string, token: string | null): Record<string, string> {
  return token && isHfUrl(url) ? { authorization: `Bearer ${token}` } : {};
}

/** Replaces any token-like string in a message (belt and braces for logs). */
export function redactToken(text: string, token: string | null): string {
  let out = text.replace(/hf_[A-Za-z0-9]{8,}/g, 'hf_***');
  if (token) out = out.split(token).join('***');
  return out;
}
