// The display-name rule of the server (auth/names.go, CleanName), mirrored
// so that the name field accepts exactly what the server accepts. Change
// both together; web's TestBrowserNameRule runs one table through both.

import { t } from './i18n.js';

export const MAX_COMBINING_MARKS = 3;

// Go's unicode.IsSpace, which strings.TrimSpace trims (String.prototype.trim
// trims a different set).
const SPACE = '\\t\\n\\v\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const TRIM = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, 'gu');
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const INVISIBLE = /[\p{Co}\u115F\u1160\u3164\uFFA0\u2800\u034F\u17B4\u17B5]/u;
const MARK = /^\p{M}$/u;
const SEPARATOR = /^\p{Zs}$/u;

// checkName returns the trimmed name and an error message ('' when valid).
export function checkName(raw, max) {
  const name = raw.replace(TRIM, '');
  if (!name) return { name, error: t('name.empty') };
  if (name.isWellFormed && !name.isWellFormed()) return { name, error: t('name.invalid') };
  const chars = [...name];
  if (chars.length > max) return { name, error: t('name.long', { n: max }) };
  if (CONTROL.test(name)) return { name, error: t('name.control') };
  if (INVISIBLE.test(name)) return { name, error: t('name.invisible') };
  let marks = 0;
  let visible = false;
  for (let i = 0; i < chars.length; i++) {
    if (MARK.test(chars[i])) {
      if (i === 0) return { name, error: t('name.markFirst') };
      if (++marks > MAX_COMBINING_MARKS) return { name, error: t('name.marks', { n: MAX_COMBINING_MARKS }) };
    } else {
      marks = 0;
      if (!SEPARATOR.test(chars[i])) visible = true;
    }
  }
  if (!visible) return { name, error: t('name.blank') };
  return { name, error: '' };
}
