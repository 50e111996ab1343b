// DOMPurify on top of our marked configuration: belt and braces for anything model-written.
import DOMPurify from 'dompurify';

export function sanitize(html: string): string {
  return DOMPurify.sanitize(html, { ALLOWED_URI_REGEXP: /^https?:\/\//i, ADD_ATTR: ['target'] });
}
