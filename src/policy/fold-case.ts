const ASCII = /^[\x00-\x7f]*$/;
const HAS_ASCII = /[\x00-\x7f]/;

/**
 * Lower case for values that compare case-insensitively (emails, email domains, groups):
 * Unicode lower case, except that a non-ASCII character never folds into ASCII. Plain
 * `toLowerCase` turns the Kelvin sign U+212A into `k` and U+0130 (`İ`) into `i` plus a
 * combining dot, so a group named `\u212Aube-admins` (which anyone who may name a group at
 * the IdP can create) passed an allow on `kube-admins`, and an email `\u212Aing@…` was
 * held, matched and sent upstream (`x-verdict-email`) as `king@…`. Those characters are
 * kept as they are: a distinct name stays distinct. Folding is per code point, the same
 * for the policy's literals and the identity's values.
 */
export function foldCase(s: string): string {
  if (ASCII.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const lower = ch.toLowerCase();
    out += ch.charCodeAt(0) >= 0x80 && HAS_ASCII.test(lower) ? ch : lower;
  }
  return out;
}
