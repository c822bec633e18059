/** Signatures of the types whose first bytes say what they are: the type, the offset and the bytes. */
const SIGNATURES: ReadonlyArray<{ type: string; offset: number; bytes: readonly number[] }> = [
  { type: 'image/png', offset: 0, bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { type: 'image/jpeg', offset: 0, bytes: [0xff, 0xd8, 0xff] },
  { type: 'image/gif', offset: 0, bytes: [0x47, 0x49, 0x46, 0x38] },
  { type: 'image/webp', offset: 8, bytes: [0x57, 0x45, 0x42, 0x50] }, // "WEBP" after "RIFF<size>"
  { type: 'application/pdf', offset: 0, bytes: [0x25, 0x50, 0x44, 0x46, 0x2d] }, // "%PDF-"
  { type: 'application/zip', offset: 0, bytes: [0x50, 0x4b, 0x03, 0x04] },
  { type: 'application/gzip', offset: 0, bytes: [0x1f, 0x8b] },
];

/** The types {@link sniffType} recognises by their first bytes. */
export const KNOWN_TYPES: ReadonlySet<string> = new Set(SIGNATURES.map((s) => s.type));

/** Declared types that are the same as a recognised one. */
const ALIASES: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'application/x-gzip': 'application/gzip',
  'application/x-zip-compressed': 'application/zip',
  'application/x-pdf': 'application/pdf',
};

/** Containers built on ZIP: their bytes say ZIP. */
const ZIP_BASED =
  /^application\/(vnd\.openxmlformats-officedocument\.|vnd\.oasis\.opendocument\.|epub\+zip|java-archive)/;

/** How many leading bytes {@link sniffType} needs. */
export const SNIFF_BYTES = 16;

/** The type the first bytes of a file say, or `undefined` when they match no known signature. */
export function sniffType(head: Buffer): string | undefined {
  for (const s of SIGNATURES) {
    if (head.length < s.offset + s.bytes.length) continue;
    let ok = true;
    for (let i = 0; i < s.bytes.length; i++) {
      if (head[s.offset + i] !== s.bytes[i]) {
        ok = false;
        break;
      }
    }
    if (ok && (s.type !== 'image/webp' || head.toString('latin1', 0, 4) === 'RIFF')) return s.type;
  }
  return undefined;
}

/**
 * Whether a file's first bytes agree with its declared type: a declared known type needs its signature; bytes
 * with a known signature must be declared as that type (or a ZIP-based container); text must contain no NUL byte.
 */
export function contentMatches(declared: string, head: Buffer): boolean {
  const type = ALIASES[declared] ?? declared;
  const sniffed = sniffType(head);
  if (KNOWN_TYPES.has(type)) return sniffed === type;
  if (sniffed !== undefined) return sniffed === 'application/zip' && ZIP_BASED.test(type);
  if (type.startsWith('text/') || type === 'application/json') return !head.includes(0);
  return true;
}
