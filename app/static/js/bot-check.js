// The ALTCHA widget's proof of work runs in worker files served by this site: its "external"
// build bundles no workers (which would need blob: URLs) and injects no styles, so a strict
// Content-Security-Policy holds. Loaded as a module after the widget, which made $altcha.
const workers = {
  "PBKDF2/SHA-256": "pbkdf2.js",
  "PBKDF2/SHA-384": "pbkdf2.js",
  "PBKDF2/SHA-512": "pbkdf2.js",
  "SHA-256": "sha.js",
  "SHA-384": "sha.js",
  "SHA-512": "sha.js",
};

for (const [algorithm, file] of Object.entries(workers)) {
  const url = new URL(`../vendor/altcha/workers/${file}`, import.meta.url);
  globalThis.$altcha.algorithms.set(algorithm, () => new Worker(url));
}
